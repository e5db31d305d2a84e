// Disk bounds for what sandboxed code writes: each container's writable layer
// and each build get an ext4 file system of their own, in a sparse image file.
// The sandbox mounts it (`mount -o loop`, which attaches a loop device that
// the kernel detaches again once it is unmounted) only inside the process's
// private mount namespace (sandbox-argv.ts), so it never shows on the host and
// no other container's namespace can hold on to it; writing past its size
// fails with ENOSPC in there, never on the host. Images are formatted ahead
// of time, two spares per size and owner (a deployment starts a web container
// and its hook's at once), so that a container start only takes one
// (docs/sandbox.md has the costs). Every image has an owner that deletes it;
// `sweep` removes what a killed server left, and detaches a loop device that
// would still hold one.

import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';

export interface LayerImage {
  /** The image file. */
  readonly file: string;
  /** A persistent image (`persistent`): its file stays when released. */
  readonly kept: boolean;
}

export interface LayerOwner {
  readonly uid: number;
  readonly gid: number;
}

export interface LayerImages {
  /**
   * A fresh image of `bytes`, holding `upper/` (owned by `owner`,
   * mode 0755: the root of the container's /app) and `work/`: an overlay's
   * writable layer; moved to `file` when given. The caller owns it and must
   * `release` it. Unless `spare` is false, a spare of the same size and owner
   * is made for the next take.
   */
  take(
    bytes: number,
    owner: LayerOwner,
    options?: { readonly file?: string; readonly spare?: boolean },
  ): Promise<LayerImage>;
  /** A persistent image at `file` (a build cache), formatted when missing with its root owned by `owner`. */
  persistent(file: string, bytes: number, owner: LayerOwner): Promise<LayerImage>;
  /**
   * Deletes a taken image (once its mounts are gone, the kernel frees its
   * blocks); a persistent one stays. Idempotent.
   */
  release(image: LayerImage): Promise<void>;
  /** Detaches any loop device backed by a file under the sweep root, empties the layers directory. */
  sweep(): Promise<number>;
  /** Detaches every loop device backed by a file under `root` (what a killed server left there). */
  detachUnder(root: string): Promise<number>;
  /** Releases the spares (a later take makes new ones: the sandbox outlives a closed driver). */
  close(): Promise<void>;
}

export interface LayerImagesOptions {
  /** Where taken images live (emptied by `sweep`). */
  readonly dir: string;
  /** Loop devices backed by files under this directory belong to this Slipway home (default `dir`). */
  readonly sweepRoot?: string;
  /** How many size-and-owner pairs keep spare images (the most recently used). */
  readonly spareKeys?: number;
  /** Spare images per size and owner. */
  readonly sparesPerKey?: number;
}

const TOOLS = { mke2fs: 'mke2fs', losetup: 'losetup', nice: 'nice' } as const;
const HELPER = { env: HELPER_ENV, timeoutMs: 60_000 } as const;
/**
 * Throwaway layers: no journal (a crash discards them anyway), no blocks kept
 * for root (the app never is root), inode tables initialised lazily, nothing
 * discarded (a new sparse file has nothing to discard).
 */
const LAYER_FORMAT = ['-q', '-F', '-t', 'ext4', '-O', '^has_journal', '-m', '0', '-E', 'lazy_itable_init=1,nodiscard'];
/** Persistent images (build caches) keep a small journal: a crash must not leave them broken. */
const CACHE_FORMAT = ['-q', '-F', '-t', 'ext4', '-J', 'size=4', '-m', '0', '-E', 'lazy_itable_init=1,nodiscard'];
/** How long after a take its spare is replaced: once the container that took it is on its way (at a low priority). */
const REFILL_DELAY_MS = 100;

export function createLayerImages(options: LayerImagesOptions): LayerImages {
  const dir = path.resolve(options.dir);
  const sweepRoot = path.resolve(options.sweepRoot ?? dir);
  const spareKeys = options.spareKeys ?? 8;
  const sparesPerKey = options.sparesPerKey ?? 2;
  /** Spare images (made or being made) by `bytes:uid:gid`, least recently used key first. */
  const spares = new Map<string, Promise<LayerImage>[]>();
  /** A release is idempotent. */
  const released = new WeakSet<LayerImage>();
  let refills: Promise<unknown> = Promise.resolve();
  /** Refills not started yet: close() cancels them, or they would make spares nobody releases. */
  const refillTimers = new Set<NodeJS.Timeout>();

  /** A new image; a spare (`background`) is made at the lowest CPU priority, behind the containers that start. */
  const make = async (bytes: number, owner: LayerOwner, at?: string, background = false): Promise<LayerImage> => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = at ?? path.join(dir, `layer-${randomBytes(8).toString('hex')}.img`);
    createSparse(file, bytes);
    const niced = background ? [TOOLS.nice, '-n', '19'] : [];
    try {
      await runChecked([...niced, TOOLS.mke2fs, ...LAYER_FORMAT, '-d', template(dir, owner), file], HELPER);
      return { file, kept: false };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  };

  /** A spare (or a new image) moved to `file`; made right there when the move cannot be done. */
  const moveTo = async (image: LayerImage, file: string, bytes: number, owner: LayerOwner): Promise<LayerImage> => {
    try {
      renameSync(image.file, file); // one metadata call
      return { ...image, file };
    } catch (err) {
      await release(image);
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      return make(bytes, owner, file);
    }
  };

  /** Tops the key's spares up, one image at a time, off the critical path of whoever took the last one. */
  const refill = (key: string, bytes: number, owner: LayerOwner) => {
    const list = spares.get(key) ?? [];
    spares.delete(key);
    spares.set(key, list); // the most recently used key last
    while (list.length < sparesPerKey) {
      const spare = refills.then(() => make(bytes, owner, undefined, true));
      spare.catch(() => {
        const index = list.indexOf(spare);
        if (index >= 0) list.splice(index, 1);
      });
      list.push(spare);
      refills = spare.catch(() => {});
    }
    while (spares.size > spareKeys) {
      const [oldest, evicted] = spares.entries().next().value as [string, Promise<LayerImage>[]];
      spares.delete(oldest);
      for (const spare of evicted) void spare.then(release, () => {});
    }
  };

  const release = async (image: LayerImage): Promise<void> => {
    if (released.has(image) || image.kept) return;
    released.add(image);
    rmSync(image.file, { force: true }); // one unlink: microseconds
  };

  return {
    async take(bytes, owner, { file, spare: keepSpare = true } = {}) {
      const key = `${bytes}:${owner.uid}:${owner.gid}`;
      const spare = spares.get(key)?.shift();
      const made = spare ? spare.catch(() => make(bytes, owner)) : make(bytes, owner, file);
      // The next spare is made a little later, so that it never competes with this container's start.
      if (keepSpare) {
        const timer = setTimeout(() => {
          refillTimers.delete(timer);
          refill(key, bytes, owner);
        }, REFILL_DELAY_MS);
        timer.unref();
        refillTimers.add(timer);
      }
      const image = await made;
      return file === undefined || image.file === file ? image : moveTo(image, file, bytes, owner);
    },
    async persistent(file, bytes, owner) {
      let created = false;
      try {
        const fd = openSync(file, 'wx', 0o600);
        created = true;
        ftruncateSync(fd, bytes);
        closeSync(fd);
        await runChecked([TOOLS.mke2fs, ...CACHE_FORMAT, '-E', `root_owner=${owner.uid}:${owner.gid}`, file], HELPER);
      } catch (err) {
        if (created || (err as NodeJS.ErrnoException).code !== 'EEXIST') {
          if (created) await rm(file, { force: true });
          throw err;
        }
      }
      return { file, kept: true };
    },
    release,
    async sweep() {
      const detached = await detachAllUnder(sweepRoot);
      const entries = await readdir(dir).catch(() => []);
      await Promise.all(entries.map((name) => rm(path.join(dir, name), { recursive: true, force: true })));
      return detached;
    },
    detachUnder: (root) => detachAllUnder(path.resolve(root)),
    async close() {
      for (const timer of refillTimers) clearTimeout(timer);
      refillTimers.clear();
      await refills;
      const pending = [...spares.values()].flat();
      spares.clear();
      await Promise.all(pending.map((spare) => spare.then(release, () => {})));
      await rm(path.join(dir, '.templates'), { recursive: true, force: true });
    },
  };
}

/** A sparse file of `bytes`, private to root. */
function createSparse(file: string, bytes: number): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/** What mke2fs copies into a layer: `upper/` owned by the app (the root of its /app), `work/` root's. */
function template(dir: string, owner: LayerOwner): string {
  const root = path.join(dir, '.templates', `${owner.uid}-${owner.gid}`);
  try {
    mkdirSync(path.join(root, 'upper'), { recursive: true, mode: 0o755 });
    mkdirSync(path.join(root, 'work'), { mode: 0o700 });
    chownSync(path.join(root, 'upper'), owner.uid, owner.gid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return root;
}

async function detachAllUnder(root: string): Promise<number> {
  const devices = loopDevicesUnder(root);
  for (const device of devices) await detach(device);
  return devices.length;
}

/** Detaches a loop device; one still mounted somewhere is detached by the kernel once unmounted. */
async function detach(device: string): Promise<void> {
  try {
    await runChecked([TOOLS.losetup, '--detach', device], HELPER);
  } catch (err) {
    // Already detached (a sweep, an earlier release): nothing to do.
    if (!/No such device|No such file|not a block device/i.test((err as Error).message)) throw err;
  }
}

/** What this host lacks to make layer images, or null. */
export function layerImagesMissing(): string | null {
  const dirs = (HELPER_ENV.PATH ?? '').split(':');
  const has = (tool: string) => dirs.some((dir) => existsSync(path.join(dir, tool)));
  if (!has(TOOLS.mke2fs)) return 'mke2fs is not installed (apt-get install e2fsprogs)';
  if (!has(TOOLS.losetup)) return 'losetup is not installed (apt-get install mount)'; // mount -o loop needs it too
  if (!existsSync('/dev/loop-control')) return 'this host has no loop devices (/dev/loop-control)';
  return null;
}

/** Loop devices whose backing file is (or was, if deleted) under `root`. */
export function loopDevicesUnder(root: string): string[] {
  const found: string[] = [];
  let names: string[];
  try {
    names = readdirSync('/sys/block').filter((name) => /^loop\d+$/.test(name));
  } catch {
    return found;
  }
  for (const name of names) {
    let backing: string;
    try {
      backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').replace(/\n$/, '');
    } catch {
      continue; // not attached
    }
    if (isUnder(backing.replace(/ \(deleted\)$/, ''), root)) found.push(`/dev/${name}`);
  }
  return found;
}

function isUnder(file: string, root: string): boolean {
  return file.startsWith(`${root}${path.sep}`);
}
