// Stores built apps as slugs: `<slugsDir>/<app>/<slugId>`, moved in by rename
// (builds live on the same filesystem), then stripped of group and other write
// bits. The store is the only writer and never writes into a slug again;
// containers see it only as the lower layer of their own writable view
// (runtime/), never directly. The owner keeps its write bits: that is the
// app's own user (sandboxed builds run as it), so in its view the app may
// change any file, as on Heroku, while the slug itself stays as built.

import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';

export interface SlugStore {
  /**
   * Moves `buildDir` into the store and returns the new slug's id (sortable by
   * creation time). When `signal` aborts meanwhile, the slug is removed again.
   */
  store(app: string, buildDir: string, signal?: AbortSignal): Promise<string>;
  path(app: string, slugId: string): string;
  /** Deletes a slug; a slug that is already gone is not an error. */
  remove(app: string, slugId: string): Promise<void>;
}

/** Group and other write bits; the owner's are kept (see above). */
const WRITE_BITS = 0o022;

export function createSlugStore(slugsDir: string): SlugStore {
  const slugPath = (app: string, slugId: string) => {
    checkName('app', app);
    checkName('slug id', slugId);
    return path.join(slugsDir, app, slugId);
  };

  const remove = async (app: string, slugId: string) => {
    const dir = slugPath(app, slugId);
    try {
      await setWritable(dir, true);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };

  return {
    path: slugPath,
    remove,
    async store(app, buildDir, signal) {
      signal?.throwIfAborted();
      const slugId = newSlugId();
      const dir = slugPath(app, slugId);
      // Two metadata calls: synchronous, where trips to the thread pool cost milliseconds on a busy host.
      mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
      renameSync(buildDir, dir);
      try {
        await setWritable(dir, false, signal);
      } catch (err) {
        await remove(app, slugId);
        throw err;
      }
      return slugId;
    },
  };
}

/** `20251127T003412123Z-1a2b3c4d`: UTC time to the millisecond, then randomness. */
export function newSlugId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}

/**
 * Adds owner write bits to every directory (what removing their entries
 * needs), or strips group/other write bits from every file and directory,
 * under `root` (root included), depth first. Symlinks are skipped: chmod
 * would follow them. Directories stay usable by their owner. Files are
 * never made writable: a slug's file may be a link to a kept layer's
 * (runtime/sandbox/kept-layer.ts), which is stored without those bits already.
 */
async function setWritable(root: string, writable: boolean, signal?: AbortSignal): Promise<void> {
  const nextMode = (mode: number, isDir: boolean) => {
    let next = writable ? mode | 0o200 : mode & ~WRITE_BITS;
    if (isDir) next |= 0o700;
    return next;
  };
  if (setWritableSync(root, writable, nextMode)) return;
  const chmod = async (p: string, mode: number, isDir: boolean) => {
    const next = nextMode(mode, isDir);
    if (next !== (mode & 0o7777)) await fs.chmod(p, next);
  };
  const walk = async (dir: string): Promise<void> => {
    signal?.throwIfAborted(); // a big slug is walked a directory at a time: a cancel stops it there
    const stat = await fs.lstat(dir);
    // Restoring write access must come first, or the children of a read-only dir could not be renamed or removed.
    if (writable) await chmod(dir, stat.mode & 0o7777, true);
    const entries = await fs.readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) return walk(p);
        if (!entry.isFile() || writable) return; // symlinks: chmod would follow them; there is nothing else in a slug
        const { mode } = await fs.lstat(p);
        await chmod(p, mode & 0o7777, false);
      }),
    );
    if (!writable) await chmod(dir, stat.mode & 0o7777, true);
  };
  await walk(root);
}

/** Up to this many entries, a slug's modes are set with synchronous calls (microseconds each). */
const SYNC_MAX_ENTRIES = 256;

/**
 * setWritable for a small tree (the common case of an app without
 * dependencies), in the same order, with synchronous calls: where a few
 * dozen trips to the thread pool cost milliseconds on a busy host. Returns
 * false, having changed nothing, when the tree is bigger (or unreadable).
 */
function setWritableSync(root: string, writable: boolean, nextMode: (mode: number, isDir: boolean) => number): boolean {
  // Directories in walk order (parents first), and the regular files.
  const dirs: string[] = [];
  const files: string[] = [];
  try {
    for (const pending = [root]; pending.length > 0; ) {
      const dir = pending.shift() as string;
      dirs.push(dir);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) pending.push(p);
        else if (entry.isFile()) files.push(p); // symlinks: chmod would follow them
      }
      if (dirs.length + pending.length + files.length > SYNC_MAX_ENTRIES) return false;
    }
  } catch {
    return false; // the asynchronous walk reports what is wrong
  }
  const chmod = (p: string, isDir: boolean) => {
    const mode = lstatSync(p).mode & 0o7777;
    const next = nextMode(mode, isDir);
    if (next !== mode) chmodSync(p, next);
  };
  // Write access is restored on directories before their children are touched, and taken away after.
  if (writable) for (const dir of dirs) chmod(dir, true);
  if (!writable) for (const file of files) chmod(file, false);
  if (!writable) for (const dir of dirs.reverse()) chmod(dir, true);
  return true;
}

function checkName(what: string, value: string): void {
  if (
    value === '' ||
    value === '.' ||
    value.includes('/') ||
    value.includes('\\') ||
    value.includes('..') ||
    value.includes('\0')
  ) {
    throw new SlipwayError(
      what === 'app' ? 'app.invalid_name' : 'internal',
      `invalid ${what} ${JSON.stringify(value)}`,
    );
  }
}
