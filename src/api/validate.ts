// Request body validation with zod, turned into `request.invalid` errors.

import { z } from 'zod';
import { parseDuration } from '../config/settings.ts';
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

const HOUR_MS = 3_600_000;
export const MAX_HOOK_TIMEOUT_MS = 24 * HOUR_MS;
export const MAX_BOOT_TIMEOUT_MS = HOUR_MS;

/** A timeout setting: a duration ("90s", "30m") or milliseconds, within bounds; null is the server's. */
export function timeoutSetting(
  name: string,
  value: string | number | null | undefined,
  maxMs: number,
): number | null | undefined {
  if (value === undefined || value === null) return value;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw new SlipwayError('request.invalid', `${name}: ${(err as Error).message}`);
  }
  if (ms < 1000 || ms > maxMs) {
    throw new SlipwayError('request.invalid', `${name} must be between 1s and ${maxMs / HOUR_MS}h`);
  }
  return ms;
}
