// The command line that starts one sandboxed process, as plain data. The chain
// (each step `exec`s the next, so the whole chain is one pid):
//
//   unshare -m   a private mount namespace, so the mounts below never show on
//                the host and vanish with the container's last process;
//   sh (setup)   joins the container's cgroups (before anything else runs),
//                mounts the layer's file system (layer-images.ts) and the
//                overlay / binds the build directories, as root;
//   nsenter --net -S -G  joins the container's own network namespace
//                (netns-pool.ts), then becomes the app's uid/gid with no
//                supplementary groups (leaving uid 0 clears every
//                capability): everything the container runs has only that
//                namespace's eth0 and loopback. One exec does both, as
//                `unshare -S -G` did the second alone;
//   bwrap        new user, pid, ipc, uts and cgroup namespaces, a read-only
//                host system, private /tmp, /proc and /dev, the app at /app;
//                an empty capability bounding set and no_new_privs for what
//                it runs. (A setuid-root bwrap would run privileged, so then
//                `setpriv` drops privileges instead, with no_new_privs first,
//                after a plain `nsenter --net`.)
//   argv         the user's command (`sh -c ...`) or a build step.

import { constants } from 'node:os';
import { inPrivateMounts } from '../../exec/index.ts';

export interface SandboxTools {
  readonly nsenter: string;
  readonly unshare: string;
  readonly mount: string;
  readonly bwrap: string;
  /** Set only when bwrap is installed setuid root: it then drops privileges instead of nsenter. */
  readonly setpriv?: string;
}

/** A mount the setup step makes as root inside the private mount namespace. */
export type SetupMount =
  | { readonly kind: 'overlay'; readonly options: string; readonly target: string }
  | { readonly kind: 'bind'; readonly source: string; readonly target: string }
  /**
   * A layer image's ext4 file system, on a loop device that `mount` attaches and the kernel detaches
   * once it is unmounted (with the namespace): writes past its size fail with ENOSPC.
   */
  | { readonly kind: 'ext4'; readonly source: string; readonly target: string }
  /**
   * A read-only bind of a root-made directory (a build's kept layer, kept-layer.ts) onto a directory
   * of a mounted image; skipped when the target is missing or a link leads to it (`target` is canonical).
   */
  | { readonly kind: 'robind'; readonly source: string; readonly target: string };

export interface SandboxInvocation {
  readonly tools: SandboxTools;
  readonly uid: number;
  readonly gid: number;
  /** The container's network namespace (`/run/netns/<name>`), entered first. */
  readonly netns: string;
  /** A copy of the host /etc files containers need (etc-view.ts), bound read-only at /etc. */
  readonly etcDir: string;
  /** cgroup.procs files to join first. */
  readonly cgroupProcs: readonly string[];
  readonly setupMounts: readonly SetupMount[];
  /** Read-write binds into the sandbox: [path reachable by the app's uid, path inside]. */
  readonly binds: readonly (readonly [string, string])[];
  /** Read-only binds, likewise (a build's buildpacks and ENV_DIR). */
  readonly roBinds?: readonly (readonly [string, string])[];
  readonly cwd: string;
  readonly hostname: string;
  /** What runs inside (the driver passes the user's command through `sh -c`). */
  readonly argv: readonly string[];
}

// Fixed text; everything variable arrives as positional parameters.
// $1 = mount binary; then cgroup.procs files up to `--`; then mount triplets
// up to `--`; then the command to exec.
const SETUP_SCRIPT = [
  'set -e',
  'mount=$1; shift',
  'while [ "$1" != -- ]; do echo $$ >"$1"; shift; done; shift',
  'while [ "$1" != -- ]; do',
  '  case $1 in',
  '    overlay) "$mount" -t overlay overlay -o "$2" "$3" ;;',
  '    bind) "$mount" --bind "$2" "$3" ;;',
  '    ext4) "$mount" -n -i -t ext4 -o loop,nosuid,nodev,noatime,noinit_itable,errors=remount-ro "$2" "$3" ;;',
  '    robind) if [ "$(realpath -e "$3" 2>/dev/null)" = "$3" ] && [ -d "$3" ]; then',
  '        "$mount" --bind "$2" "$3" && "$mount" -o remount,bind,ro,nosuid,nodev "$3"; fi ;;',
  '    *) echo "sandbox setup: unknown mount $1" >&2; exit 125 ;;',
  '  esac',
  '  shift 3',
  'done; shift',
  'exec "$@"',
].join('\n');

/** Host paths the sandbox sees read-only, when they exist. /usr holds the system and node. */
const SYSTEM_DIRS = ['/usr', '/opt'];
/** /bin, /lib… are symlinks into /usr on merged-/usr systems, directories elsewhere. */
export const TOP_LEVEL_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** Top-level entries as found on this host: symlink targets, or null for a real directory. */
export type TopLevelLayout = ReadonlyMap<string, string | null>;

export function sandboxArgv(inv: SandboxInvocation, layout: TopLevelLayout): string[] {
  const { tools } = inv;
  const setup: string[] = [tools.mount, ...inv.cgroupProcs, '--'];
  for (const m of inv.setupMounts) {
    setup.push(m.kind, m.kind === 'overlay' ? m.options : m.source, m.target);
  }
  setup.push('--');

  const bwrap: string[] = [
    tools.bwrap,
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    inv.hostname,
    '--new-session',
    '--die-with-parent',
    '--cap-drop',
    'ALL',
  ];
  for (const dir of SYSTEM_DIRS) bwrap.push('--ro-bind-try', dir, dir);
  for (const [link, target] of layout) {
    if (target === null) bwrap.push('--ro-bind', link, link);
    else bwrap.push('--symlink', target, link);
  }
  bwrap.push('--ro-bind', inv.etcDir, '/etc');
  bwrap.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  for (const [source, dest] of inv.binds) bwrap.push('--bind', source, dest);
  for (const [source, dest] of inv.roBinds ?? []) bwrap.push('--ro-bind', source, dest);
  bwrap.push('--chdir', inv.cwd, ...inv.argv);

  return [
    ...inPrivateMounts(SETUP_SCRIPT, 'slipway-sandbox-setup', tools.unshare),
    ...setup,
    ...enterNetworkAsUser(tools, inv.netns, inv.uid, inv.gid),
    ...bwrap,
  ];
}

function enterNetworkAsUser(tools: SandboxTools, netns: string, uid: number, gid: number): string[] {
  if (tools.setpriv === undefined) return [tools.nsenter, `--net=${netns}`, `--setgid=${gid}`, `--setuid=${uid}`];
  return [
    tools.nsenter,
    `--net=${netns}`,
    tools.setpriv,
    `--reuid=${uid}`,
    `--regid=${gid}`,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
  ];
}

/**
 * bwrap reports a command killed by signal N as exit code 128+N (as shells
 * do); turn that back into the signal, so both drivers report alike.
 */
export function decodeExit(
  code: number | null,
  signal: NodeJS.Signals | null,
): {
  code: number | null;
  signal: NodeJS.Signals | null;
} {
  if (code !== null && code > 128 && code < 128 + 32) {
    const name = SIGNAL_NAMES[code - 128];
    if (name !== undefined) return { code: null, signal: name };
  }
  return { code, signal };
}

const SIGNAL_NAMES: Record<number, NodeJS.Signals> = Object.fromEntries(
  Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);
