// Disk bounds for what sandboxed code writes: each container's writable layer
// and each build get an ext4 file system of their own, in a sparse image file.
// The sandbox mounts it (`mount -o loop`, which attaches a loop device that
// the kernel detaches again once it is unmounted) only inside the process's
// private mount namespace (sandbox-argv.ts), so it never shows on the host and
// no other container's namespace can hold on to it; writing past its size
// fails with ENOSPC in there, never on the host. `mke2fs` runs once per size
// and owner, for a template; an image is a copy of the template's few written
// blocks into a new sparse file (a millisecond or two, no process), and two
// spares per size and owner are made ahead of time (a deployment starts a web
// container and its hook's at once), so that a container start only renames
// one (docs/sandbox.md has the costs). Every image has an owner that deletes
// it; `sweep` removes what a killed server left, and detaches a loop device
// that would still hold one.

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
  readSync,
  renameSync,
  rmSync,
  writeSync,
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

const TOOLS = { mke2fs: 'mke2fs', losetup: 'losetup', filefrag: 'filefrag' } as const;
const HELPER = { env: HELPER_ENV, timeoutMs: 60_000 } as const;
/**
 * Throwaway layers: no journal (a crash discards them anyway), no blocks kept
 * for root (the app never is root), inode tables initialised lazily, nothing
 * discarded (a new sparse file has nothing to discard).
 */
const LAYER_FORMAT = ['-q', '-F', '-t', 'ext4', '-O', '^has_journal', '-m', '0', '-E', 'lazy_itable_init=1,nodiscard'];
/** Persistent images (build caches) keep a small journal: a crash must not leave them broken. */
const CACHE_FORMAT = ['-q', '-F', '-t', 'ext4', '-J', 'size=4', '-m', '0', '-E', 'lazy_itable_init=1,nodiscard'];
/** How long after a take its spare is replaced: once the container that took it is on its way. */
const REFILL_DELAY_MS = 50;

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

  /** Formatted templates by `bytes:uid:gid`, least recently used first (each holds a file descriptor). */
  const templates = new Map<string, Promise<Template>>();
  const templateFor = (bytes: number, owner: LayerOwner): Promise<Template> => {
    const key = `${bytes}:${owner.uid}:${owner.gid}`;
    let made = templates.get(key);
    templates.delete(key);
    if (made === undefined) {
      made = formatTemplate(dir, bytes, owner);
      made.catch(() => templates.delete(key)); // tried again by the next take
    }
    templates.set(key, made); // the most recently used last
    while (templates.size > MAX_TEMPLATES) {
      const [oldest, evicted] = templates.entries().next().value as [string, Promise<Template>];
      templates.delete(oldest);
      void evicted.then(dropTemplate, () => {});
    }
    return made;
  };
  /** One buffer for every copy (copies are synchronous): a fresh one costs a page fault per 4 KiB, ~3 ms a MiB here. */
  let buffer = Buffer.alloc(0);

  /** A new image: a copy of the template (synchronous writes of its few written blocks). */
  const make = async (bytes: number, owner: LayerOwner, at?: string): Promise<LayerImage> => {
    const template = await templateFor(bytes, owner);
    const file = at ?? path.join(dir, `layer-${randomBytes(8).toString('hex')}.img`);
    if (buffer.length < template.largestExtent) buffer = Buffer.alloc(template.largestExtent);
    cloneTemplate(template, file, buffer);
    return { file, kept: false };
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
      const spare = refills.then(() => make(bytes, owner));
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
      const made = [...templates.values()];
      templates.clear();
      for (const template of await Promise.allSettled(made)) {
        if (template.status === 'fulfilled') dropTemplate(template.value);
      }
      buffer = Buffer.alloc(0);
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

/** A formatted image to copy: its open file, and where its written blocks are. */
interface Template {
  readonly file: string;
  readonly fd: number;
  readonly bytes: number;
  /** [offset, length] in bytes, of every extent holding data. */
  readonly extents: readonly (readonly [number, number])[];
  readonly largestExtent: number;
}

/** Templates kept (the most recently used): one per size and app in use. */
const MAX_TEMPLATES = 32;

function dropTemplate(template: Template): void {
  closeSync(template.fd);
  rmSync(template.file, { force: true });
}

/** mke2fs once, for this size and owner; filefrag says which blocks it wrote. */
async function formatTemplate(dir: string, bytes: number, owner: LayerOwner): Promise<Template> {
  const templates = path.join(dir, '.templates');
  mkdirSync(templates, { recursive: true, mode: 0o700 });
  const file = path.join(templates, `${bytes}-${owner.uid}-${owner.gid}.img`);
  rmSync(file, { force: true });
  createSparse(file, bytes);
  await runChecked([TOOLS.mke2fs, ...LAYER_FORMAT, '-d', templateContent(templates, owner), file], HELPER);
  const extents = parseExtents(await runChecked([TOOLS.filefrag, '-v', '-b4096', file], HELPER));
  if (extents.length === 0) throw new Error(`filefrag found no data in ${file}`);
  const largestExtent = Math.max(...extents.map(([, length]) => length));
  return { file, fd: openSync(file, 'r'), bytes, extents, largestExtent };
}

/** `filefrag -v -b4096` lines (`0: 0.. 257: 13468192.. 13468449: 258: ...`) as byte ranges; unwritten extents read as zeros and are left out. */
export function parseExtents(output: string): [number, number][] {
  const extents: [number, number][] = [];
  for (const line of output.split('\n')) {
    const match = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):.*?:\s*(\S*)\s*$/.exec(line);
    if (match === null || /unwritten/.test(match[3] ?? '')) continue;
    const first = Number(match[1]);
    extents.push([first * 4096, (Number(match[2]) - first + 1) * 4096]);
  }
  return extents;
}

/** A sparse file of the template's size holding a copy of its written blocks. */
function cloneTemplate(template: Template, file: string, buffer: Buffer): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    ftruncateSync(fd, template.bytes);
    for (const [offset, length] of template.extents) {
      readSync(template.fd, buffer, 0, length, offset);
      writeSync(fd, buffer, 0, length, offset);
    }
  } catch (err) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw err;
  }
  closeSync(fd);
}

/** What mke2fs copies into a layer: `upper/` owned by the app (the root of its /app), `work/` root's. */
function templateContent(templates: string, owner: LayerOwner): string {
  const root = path.join(templates, `${owner.uid}-${owner.gid}`);
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
  if (!has(TOOLS.mke2fs) || !has(TOOLS.filefrag))
    return 'mke2fs or filefrag is not installed (apt-get install e2fsprogs)';
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
