// The command line that runs an add-on's server program (PostgreSQL's initdb
// and pg_ctl, redis-server) as its system user. PostgreSQL refuses to run as
// root, and no server of ours should; their files live in the Slipway home,
// which only root may enter (0700). So, as root, the chain is:
//
//   unshare -m   a private mount namespace (the server, and postgres after
//                it, keep it: nothing shows on the host);
//   sh (setup)   binds the add-on's folder onto a fixed mount point that the
//                user can reach (/run/slipway-postgresql), a fixed script
//                whose data are arguments, never interpolated;
//   setpriv      becomes the user, no supplementary groups, no new privileges;
//   argv         the program, with paths under the mount point.
//
// When the server is not root, the program runs as the server's own user on
// the real paths.

import fs from 'node:fs';
import { inPrivateMounts } from '../exec/index.ts';

const SETUP_SCRIPT = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';

export interface ServiceUser {
  readonly uid: number;
  readonly gid: number;
}

export interface ServiceRunner {
  /** The add-on's folder as the programs see it. */
  readonly dir: string;
  /** argv running `program` with `args` as the service's user. */
  argv(program: string, args: readonly string[]): string[];
  /** Who owns the add-on's files (null: the server's own user). */
  readonly owner: ServiceUser | null;
}

/**
 * Runs programs as `owner` with `hostDir` seen at `mountPoint` (`/run/slipway-<provider>`), or as
 * the server's own user on the real path when `owner` is null.
 */
export function serviceRunner(hostDir: string, owner: ServiceUser | null, mountPoint: string): ServiceRunner {
  if (owner === null) return { dir: hostDir, owner, argv: (program, args) => [program, ...args] };
  fs.mkdirSync(mountPoint, { recursive: true, mode: 0o755 }); // empty on the host: mounts happen in private namespaces
  return {
    dir: mountPoint,
    owner,
    argv: (program, args) => [
      ...inPrivateMounts(SETUP_SCRIPT, 'slipway-postgresql-setup'),
      hostDir,
      mountPoint,
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

/** A system user (`postgres`, `redis`: Debian's packages make them) when the server is root; null otherwise. */
export function serviceUser(name: string): ServiceUser | null | 'missing' {
  if (process.getuid?.() !== 0) return null;
  const passwd = fs.readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name) return { uid: Number(uid), gid: Number(gid) };
  }
  return 'missing';
}
