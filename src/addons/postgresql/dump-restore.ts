// Backups of one add-on's database with the host's pg_dump and pg_restore
// (the newest installed, as the embedded cluster's), connected as Slipway's
// admin: its password goes in the environment, never on a command line.

import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import { unavailable } from './embedded-cluster.ts';
import { findPostgresBin } from './find-postgres.ts';

/** libpq's environment for the admin URL, aimed at `database`. */
function libpqEnv(adminUrl: string, database: string): Record<string, string> {
  const url = new URL(adminUrl);
  const env: Record<string, string> = {
    ...HELPER_ENV,
    PGHOST: url.searchParams.get('host') ?? url.hostname.replace(/^\[|\]$/g, ''),
    PGPORT: url.searchParams.get('port') ?? (url.port || '5432'),
    PGUSER: decodeURIComponent(url.username),
    PGPASSWORD: decodeURIComponent(url.password),
    PGDATABASE: database,
  };
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null) env.PGSSLMODE = sslmode;
  return env;
}

function tool(name: 'pg_dump' | 'pg_restore'): string {
  const bin = findPostgresBin();
  if (bin === null) throw unavailable(`${name} is not installed on this host (Debian's "postgresql-client" package)`);
  return `${bin}/${name}`;
}

/** pg_dump -Fc of `database` into `file`. */
export async function dumpDatabase(
  adminUrl: string,
  database: string,
  file: string,
  signal?: AbortSignal,
): Promise<void> {
  await runChecked([tool('pg_dump'), '--format=custom', '--no-owner', '--no-acl', `--file=${file}`], {
    env: libpqEnv(adminUrl, database),
    timeoutMs: 60 * 60_000,
    signal,
  });
}

/**
 * Loads a backup into `database` (made again, empty, by the caller) in one transaction: all or
 * nothing. Objects are created as the app's role (`--role`, the database's name) so that the app
 * owns them as before.
 */
export async function restoreDatabase(adminUrl: string, database: string, file: string): Promise<void> {
  await runChecked(
    [
      tool('pg_restore'),
      '--no-owner',
      '--no-acl',
      '--single-transaction',
      '--exit-on-error',
      `--role=${database}`,
      `--dbname=${database}`,
      file,
    ],
    { env: libpqEnv(adminUrl, database), timeoutMs: 60 * 60_000 },
  );
}
