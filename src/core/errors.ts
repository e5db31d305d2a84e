// SlipwayError: every failure a user can see carries a stable dotted code.
// The API maps codes to HTTP statuses (api/error-status.ts) and the CLI maps
// them to exit codes (cli/exit-codes.ts); nothing else inspects messages.

export const ERROR_CODES = [
  'auth.missing_token',
  'auth.invalid_token',
  'auth.rate_limited',
  'app.invalid_name',
  'app.not_found',
  'app.already_exists',
  'app.limit_reached',
  'config.invalid_key',
  'config.invalid_value',
  'deployment.not_found',
  'deployment.not_cancellable',
  'release.not_found',
  'release.never_live',
  'domain.invalid',
  'domain.taken',
  'domain.not_found',
  'formation.invalid',
  'app.no_release',
  'request.invalid',
  'request.not_found',
  'request.too_large',
  'request.busy',
  'procfile.invalid_line',
  'procfile.duplicate_type',
  'procfile.invalid_type',
  'procfile.too_many_types',
  'manifest.invalid',
  'source.invalid_archive',
  'source.unsafe_path',
  'source.unsafe_link',
  'source.unsupported_entry',
  'source.too_large',
  'source.empty',
  'source.invalid_url',
  'source.fetch_failed',
  'source.denied_destination',
  'github.invalid_repo',
  'github.link_not_found',
  'auth.invalid_signature',
  'buildpack.invalid',
  'build.failed',
  'deploy.crashed',
  'deploy.boot_timeout',
  'deploy.hook_failed',
  'deploy.hook_timeout',
  'deploy.release_failed',
  'deploy.release_timeout',
  'deploy.aborted',
  'deploy.no_release',
  'deploy.no_processes',
  'runtime.start_failed',
  'addon.unknown_provider',
  'addon.invalid_name',
  'addon.already_exists',
  'addon.not_found',
  'addon.config_var_taken',
  'addon.unavailable',
  'volume.invalid_path',
  'volume.invalid_size',
  'volume.already_exists',
  'volume.not_found',
  'volume.limit_reached',
  'disk.reserve_reached',
  'disk.full',
  'store.unavailable',
  'cert.not_pem',
  'cert.key_invalid',
  'cert.key_mismatch',
  'cert.expired',
  'cert.not_yet_valid',
  'cert.chain_incomplete',
  'cert.chain_invalid',
  'cert.name_mismatch',
  'cert.not_found',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class SlipwayError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SlipwayError';
    this.code = code;
    this.details = details;
  }
}

export function isSlipwayError(err: unknown, code?: ErrorCode): err is SlipwayError {
  return err instanceof SlipwayError && (code === undefined || err.code === code);
}

/** A write that found no room: ENOSPC/EDQUOT (file system), SQLITE_FULL (SQLite), 53100 disk_full (PostgreSQL). */
export function isOutOfSpace(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === '53100';
}

/** `disk.full` for a write of `what` that found no room (HTTP 507): nothing of it was kept. */
export function diskFull(what: string): SlipwayError {
  return new SlipwayError(
    'disk.full',
    `disk full: the server had no room left for ${what}, which was not kept; try again once an administrator has made room`,
  );
}
