// The one place error codes become CLI exit codes (documented in README).

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  conflict: 5,
  invalidInput: 6,
  deployFailed: 7,
  unreachable: 8,
  diskFull: 9,
} as const;

const CONFLICTS = new Set([
  'app.already_exists',
  'app.limit_reached',
  'domain.taken',
  'deployment.not_cancellable',
  'app.no_release',
  'release.never_live',
  'addon.already_exists',
  'addon.config_var_taken',
  'volume.already_exists',
  'volume.limit_reached',
]);

export function exitCodeOf(code: string): number {
  if (code.startsWith('auth.')) return EXIT.auth;
  if (code.startsWith('disk.')) return EXIT.diskFull;
  if (code.endsWith('.not_found')) return EXIT.notFound;
  if (CONFLICTS.has(code)) return EXIT.conflict;
  if (code.startsWith('deploy.') || code === 'build.failed') return EXIT.deployFailed;
  if (code === 'internal' || code === 'addon.unavailable') return EXIT.failure;
  if (code === 'cli.unreachable' || code === 'store.unavailable') return EXIT.unreachable;
  if (code === 'cli.usage') return EXIT.usage;
  return EXIT.invalidInput;
}
