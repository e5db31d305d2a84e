// Request body validation with zod, turned into `request.invalid` errors.

import { z } from 'zod';
import { SlipwayError } from '../core/errors.ts';

/** A release version in a body: `"v3"`, `"3"` or 3; made a number by `parseVersion`. */
export const releaseVersionField = z.union([z.string(), z.number().int().positive()]);

/** `v3`, `3` or 3 → 3. */
export function parseVersion(value: string | number): number {
  const match = /^v?(\d{1,9})$/i.exec(String(value).trim());
  const version = match ? Number(match[1]) : 0;
  if (version < 1)
    throw new SlipwayError('request.invalid', `invalid release version ${JSON.stringify(value)}: use e.g. v3`);
  return version;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    throw new SlipwayError('request.invalid', `invalid request: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}
