// What happens to the build directory once the buildpacks are done: the
// paths `.slugignore` names (gitignore patterns, as on Heroku) are removed,
// and the slug's size is measured, with a warning over SLUG_WARN_BYTES.

import { lstatSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import ignore from 'ignore';
import { HELPER_ENV, runProcess } from '../exec/index.ts';
import { readAppFile } from './read-app-files.ts';

/** Over this, the build log warns (Heroku's soft limit). */
export const SLUG_WARN_BYTES = 500 * 1024 * 1024;

/** Removes what `.slugignore` names; returns how many paths it removed. */
export async function applySlugignore(buildDir: string, signal?: AbortSignal): Promise<number> {
  const text = await readAppFile(buildDir, '.slugignore');
  if (text === null) return 0;
  const rules = ignore().add(text);
  let removed = 0;
  const walk = async (prefix: string): Promise<void> => {
    signal?.throwIfAborted();
    const entries = await fs.readdir(path.join(buildDir, prefix), { withFileTypes: true });
    for (const entry of entries) {
      const rel = prefix + entry.name;
      // A Dirent describes the entry itself: a symlink is matched as a file and never followed.
      const dir = entry.isDirectory();
      if (rules.ignores(dir ? `${rel}/` : rel)) {
        await fs.rm(path.join(buildDir, rel), { recursive: true, force: true });
        removed++;
      } else if (dir) {
        await walk(`${rel}/`);
      }
    }
  };
  await walk('');
  return removed;
}

/** Up to this many entries, the size is summed here; a larger tree is `du`'s (one process, faster there). */
const SMALL_TREE_ENTRIES = 2000;

/** The bytes the files of the directory hold (their apparent size), or null when it cannot be told. */
export async function slugSize(buildDir: string, signal?: AbortSignal): Promise<number | null> {
  return (await smallTreeSize(buildDir)) ?? duSize(buildDir, signal);
}

/**
 * The apparent size of a small tree (symlinks not followed), or null once it has more entries than
 * that. Synchronous: a few thousand metadata calls cost milliseconds here, a trip to the thread
 * pool each on a busy host far more.
 */
async function smallTreeSize(root: string): Promise<number | null> {
  let entries = 0;
  let bytes = 0;
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (++entries > SMALL_TREE_ENTRIES) return null;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) pending.push(file);
      else bytes += lstatSync(file).size;
    }
  }
  return bytes;
}

async function duSize(buildDir: string, signal?: AbortSignal): Promise<number | null> {
  let out = '';
  const result = await runProcess(['du', '-s', '-b', '--', buildDir], {
    env: HELPER_ENV,
    signal,
    timeoutMs: 60_000,
    onLine: (stream, line) => {
      if (stream === 'stdout') out = line;
    },
  });
  const bytes = Number.parseInt(out, 10);
  return result.code === 0 && Number.isFinite(bytes) ? bytes : null;
}
