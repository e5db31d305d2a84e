// The one place error codes become HTTP statuses.

import type { ErrorCode } from '../core/errors.ts';

const BY_PREFIX: readonly [string, number][] = [
  ['auth.', 401],
  ['procfile.', 422],
  ['manifest.', 422],
  ['source.too_large', 413],
  ['source.', 422],
  ['config.', 422],
  ['domain.invalid', 422],
  ['formation.', 422],
  ['buildpack.', 422],
  ['cert.', 422],
  ['volume.invalid_', 422],
];

const EXACT: Partial<Record<ErrorCode, number>> = {
  'app.invalid_name': 422,
  'auth.rate_limited': 429,
  'app.already_exists': 409,
  'addon.already_exists': 409,
  'addon.config_var_taken': 409,
  'addon.unknown_provider': 422,
  'addon.invalid_name': 422,
  'addon.unavailable': 503,
  'volume.already_exists': 409,
  'volume.limit_reached': 409,
  'app.limit_reached': 409,
  'domain.taken': 409,
  'deployment.not_cancellable': 409,
  'app.no_release': 409,
  'release.never_live': 409,
  'request.invalid': 400,
  'request.too_large': 413,
  'request.busy': 503,
  'store.unavailable': 503,
  'source.fetch_failed': 502,
  'github.invalid_repo': 422,
  // 507 Insufficient Storage: the server's disk, not the request, is the problem; retry once there is room.
  'disk.reserve_reached': 507,
  'disk.full': 507,
};

export function httpStatusOf(code: string): number {
  const exact = EXACT[code as ErrorCode];
  if (exact) return exact;
  if (code.endsWith('.not_found')) return 404;
  for (const [prefix, status] of BY_PREFIX) if (code.startsWith(prefix)) return status;
  return 500;
}
