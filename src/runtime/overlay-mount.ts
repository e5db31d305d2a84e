// overlayfs plumbing for writable views: build the mount option string safely,
// mount (through exec/, or by a container's own first process) and unmount,
// tell whether a path is still a mount point, and probe once whether this host
// lets us mount overlays at all.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HELPER_ENV, runChecked } from '../exec/index.ts';
import { readMounts } from './mountinfo.ts';

export interface OverlayDirs {
  /** Read-only lower layer (the slug). */
  readonly lower: string;
  /** Further read-only layers under it, topmost first (a build's kept layer). */
  readonly below?: readonly string[];
  readonly upper: string;
  readonly work: string;
  /** Where the merged view is mounted. */
  readonly target: string;
}

// The kernel splits the option string on `,` and lowerdir on `:`, and treats
// `\` as an escape; rather than escape, refuse paths that would be misread.
const UNSAFE_OPTION_CHARS = /[,:\\]/;

export function overlayOptions({ lower, below = [], upper, work }: OverlayDirs): string {
  for (const dir of [lower, ...below, upper, work]) {
    if (UNSAFE_OPTION_CHARS.test(dir)) {
      throw new Error(
        `path ${JSON.stringify(dir)} contains ',', ':' or '\\', which overlayfs mount options cannot carry`,
      );
    }
  }
  return `lowerdir=${[lower, ...below].join(':')},upperdir=${upper},workdir=${work}`;
}

export async function mountOverlay(dirs: OverlayDirs): Promise<void> {
  const options = overlayOptions(dirs);
  await runChecked(['mount', '-t', 'overlay', 'overlay', '-o', options, dirs.target], { env: HELPER_ENV });
}

// Fixed text; the mount binary, the options, the target and the command arrive as positional parameters.
const MOUNT_THEN_EXEC = [
  '"$1" -t overlay overlay -o "$2" "$3" || { echo "slipway: could not mount the container\'s view" >&2; exit 125; }',
  'cd "$3" || exit 125',
  'shift 3',
  'exec "$@"',
].join('\n');

/**
 * `argv`, run by a first process that mounts the overlay (on the host, as
 * mountOverlay does) and then becomes `argv` in the view: one spawn instead of
 * a `mount` process and then the command. Spawn it from any directory; if the
 * mount fails, the command never runs and the process exits 125 after saying
 * why on stderr.
 */
export function mountThenExec(dirs: OverlayDirs, argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', MOUNT_THEN_EXEC, 'slipway-view', mountBinary(), overlayOptions(dirs), dirs.target, ...argv];
}

let mountPath: string | undefined;

/** util-linux `mount`, found once on the helpers' PATH (the container's own PATH must not choose it). */
function mountBinary(): string {
  mountPath ??=
    (HELPER_ENV.PATH ?? '')
      .split(':')
      .map((dir) => path.join(dir, 'mount'))
      .find((file) => existsSync(file)) ?? '/bin/mount';
  return mountPath;
}

/** Unmounts `target`; a busy mount (a straggler's cwd) is detached lazily. Throws only if it stays mounted. */
export async function unmount(target: string): Promise<void> {
  try {
    await runChecked(['umount', target], { env: HELPER_ENV });
    return;
  } catch (err) {
    if (!(await isMountPoint(target))) return; // someone else unmounted it already
    if (!/busy/i.test((err as Error).message)) throw err;
  }
  await runChecked(['umount', '-l', target], { env: HELPER_ENV });
}

export async function isMountPoint(target: string): Promise<boolean> {
  let resolved: string;
  try {
    resolved = await realpath(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  return (await readMounts()).some((mount) => mount.mountPoint === resolved);
}

/**
 * Tries a throwaway overlay mount under `parentDir` (the filesystem the upper
 * layers will live on). Returns null when overlays work, else the reason.
 */
export async function probeOverlay(parentDir: string): Promise<string | null> {
  if (process.platform !== 'linux') return `platform is ${process.platform}, not linux`;
  if (process.getuid?.() !== 0) return 'not running as root';
  await mkdir(parentDir, { recursive: true });
  const scratch = await mkdtemp(path.join(parentDir, '.overlay-probe-'));
  const dirs: OverlayDirs = {
    lower: path.join(scratch, 'lower'),
    upper: path.join(scratch, 'upper'),
    work: path.join(scratch, 'work'),
    target: path.join(scratch, 'merged'),
  };
  let mounted = false;
  try {
    await Promise.all([dirs.lower, dirs.upper, dirs.work, dirs.target].map((dir) => mkdir(dir)));
    await writeFile(path.join(dirs.lower, 'probe'), 'ok');
    await mountOverlay(dirs);
    mounted = true;
    const seen = await readFile(path.join(dirs.target, 'probe'), 'utf8');
    return seen === 'ok' ? null : 'overlay mount did not show its lower layer';
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (mounted) await unmount(dirs.target);
    // Never recurse into a directory that is still a mount point.
    if (!(await isMountPoint(dirs.target))) await rm(scratch, { recursive: true, force: true });
  }
}
