// A buildpack's kept layer: what it left in its cache (`CACHE_DIR/kept`: its
// `build-dir/node_modules`, their key and prune recording) for the next build.
// Once a build is done, the collect moves it out of the app's cache image to
// the host, `<cache>.kept/<cacheKey>/` (root's alone: the app never reaches
// it by a path), so that the next slug gets its unchanged files as hard links
// instead of copies (build-layer.ts). The next build sees it read-only: its
// `build-dir` as the lowest layer of the build directory's overlay (so an
// unchanged node_modules is neither copied into the build nor written back),
// the whole at `CACHE_DIR/kept` (docs/buildpacks.md, "Layers kept from the
// last build"). Offered only to the buildpack that runs first, only for names
// the source does not hold. The build never writes into it: its changes land
// in its own upper layer, and a buildpack that keeps a new one writes
// `kept.next/` in its cache, which the collect moves out once the build's
// mounts are gone. Slugs hold links to its files and the runtimes only ever
// use a slug as a read-only lower layer or copy it, so nothing writes into it
// after the collect either (SECURITY.md).

import { existsSync, lstatSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';

export interface KeptLayerMount {
  readonly cacheKey: string;
  /** The entries it puts at the top of the build directory. */
  readonly names: readonly string[];
  /**
   * Where it is during this build: moved beside the build directory (`<build>.kept-layer`), so that
   * a cache cleared meanwhile does not pull it from under the build; `home` when it cannot be moved.
   */
  readonly store: string;
  /** Where it is kept between builds (`<cache>.kept/<cacheKey>`). */
  readonly home: string;
  /** Its `build-dir`: the build directory's lowest layer. */
  readonly lower: string;
  /** Its size when the collect stored it (KiB): counted in the cache's cap. */
  readonly kib: number;
}

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SAFE_NAME = /^[A-Za-z0-9@._-]+$/;

/** Where the kept layers of the app whose build cache directory is `cacheDir` are on the host. */
export function keptHome(cacheDir: string): string {
  return `${cacheDir.replace(/\/+$/, '')}.kept`;
}

/** Where a buildpack's kept layer is inside its cache image (relative to the image's root). */
export const keptDir = (cacheKey: string) => path.posix.join('buildpacks', cacheKey, 'kept');

/** Whether the cache key can name a kept layer (it becomes a path). */
export const keepable = (cacheKey: string | undefined): cacheKey is string =>
  cacheKey !== undefined && SAFE_KEY.test(cacheKey);

const realDir = (dir: string) => lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;

/**
 * The kept layer of buildpack `cacheKey` on the host, set aside for this build (`unpinKeptLayer`
 * puts it back), or null when there is none to offer.
 */
export function peekKeptLayer(request: {
  readonly cacheDir: string;
  readonly cacheKey: string | undefined;
  readonly buildDir: string;
}): KeptLayerMount | null {
  const { cacheKey } = request;
  if (!keepable(cacheKey)) return null;
  const home = keptHome(request.cacheDir);
  const store = path.join(home, cacheKey);
  const lower = path.join(store, 'build-dir');
  // Made by the collect, as root; a link on the way is never followed.
  if (![home, store, lower].every(realDir)) return null;
  const names = readdirSync(lower);
  if (names.length === 0 || !names.every((name) => SAFE_NAME.test(name))) return null;
  // What the source holds wins, whole: a layer is never merged into the app's own files.
  if (names.some((name) => lstatSync(path.join(request.buildDir, name), { throwIfNoEntry: false }) !== undefined))
    return null;
  let kib = 0;
  try {
    kib = Number.parseInt(readFileSync(`${store}.kib`, 'utf8'), 10) || 0;
  } catch {
    // not measured: counted as nothing
  }
  const pinned = `${request.buildDir}.kept-layer`;
  try {
    renameSync(store, pinned);
  } catch {
    return { cacheKey, names, store, home: store, lower, kib }; // another file system: used where it is
  }
  return { cacheKey, names, store: pinned, home: store, lower: path.join(pinned, 'build-dir'), kib };
}

/**
 * Puts an offered layer back where it is kept, once the build is done with it; unless the cache
 * was cleared meanwhile or the build stored a new one: then it is removed. Idempotent.
 */
export async function unpinKeptLayer(kept: KeptLayerMount): Promise<void> {
  if (kept.store === kept.home || !existsSync(kept.store)) return;
  if (realDir(path.dirname(kept.home)) && lstatSync(kept.home, { throwIfNoEntry: false }) === undefined) {
    try {
      renameSync(kept.store, kept.home);
      return;
    } catch {
      // removed below
    }
  }
  await rm(kept.store, { recursive: true, force: true });
}
