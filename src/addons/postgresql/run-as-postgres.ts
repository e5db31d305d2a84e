// The command line that runs a PostgreSQL program (initdb, pg_ctl) of the
// embedded cluster. PostgreSQL refuses to run as root; the cluster's files
// live in the Slipway home, which only root may enter (0700). So, as root,
// the chain is:
//
//   unshare -m   a private mount namespace (the server, and postgres after
//                it, keep it: nothing shows on the host);
//   sh (setup)   binds the cluster's folder onto a fixed mount point that the
//                postgres user can reach (/run/slipway-postgresql), a fixed
//                script whose data are arguments, never interpolated;
//   setpriv      becomes the postgres user, no supplementary groups, no new
//                privileges;
//   argv         initdb / pg_ctl, with paths under the mount point.
//
// When the server is not root, the program runs as the server's own user on
// the real paths.

import fs from 'node:fs';
import { inPrivateMounts } from '../../exec/index.ts';

/** Where the cluster's folder appears for the postgres user when the server is root. */
export const MOUNT_POINT = '/run/slipway-postgresql';

const SETUP_SCRIPT = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';

export interface PostgresUser {
  readonly uid: number;
  readonly gid: number;
}

export interface ClusterRunner {
  /** The cluster folder as the programs see it. */
  readonly dir: string;
  /** argv running `program` (a PostgreSQL binary) with `args` as the postgres user. */
  argv(program: string, args: readonly string[]): string[];
  /** Who owns the cluster's files (null: the server's own user). */
  readonly owner: PostgresUser | null;
}

export function clusterRunner(hostDir: string, owner: PostgresUser | null): ClusterRunner {
  if (owner === null) return { dir: hostDir, owner, argv: (program, args) => [program, ...args] };
  fs.mkdirSync(MOUNT_POINT, { recursive: true, mode: 0o755 }); // empty on the host: mounts happen in private namespaces
  return {
    dir: MOUNT_POINT,
    owner,
    argv: (program, args) => [
      ...inPrivateMounts(SETUP_SCRIPT, 'slipway-postgresql-setup'),
      hostDir,
      MOUNT_POINT,
      'setpriv',
      `--reuid=${owner.uid}`,
      `--regid=${owner.gid}`,
      '--clear-groups',
      '--no-new-privs',
      program,
      ...args,
    ],
  };
}

/** The `postgres` system user (Debian's package makes it) when the server is root; null otherwise. */
export function postgresUser(): PostgresUser | null | 'missing' {
  if (process.getuid?.() !== 0) return null;
  const passwd = fs.readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
  }
  return 'missing';
}

/** The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin), or null. */
export function findPostgresBin(root = '/usr/lib/postgresql'): string | null {
  let versions: string[];
  try {
    versions = fs.readdirSync(root).filter((v) => /^\d+$/.test(v));
  } catch {
    return null;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = `${root}/${version}/bin`;
    if (fs.existsSync(`${bin}/initdb`) && fs.existsSync(`${bin}/pg_ctl`)) return bin;
  }
  return null;
}
