// Request body validation with zod, turned into `request.invalid` errors.

import type { z } from 'zod';
import { SlipwayError } from '../core/errors.ts';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    throw new SlipwayError('request.invalid', `invalid request: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}
