// A buildpack's kept layer: what it left in its cache (`CACHE_DIR/kept/build-dir`,
// in the app's cache image) for the next build, mounted under the build
// directory as a read-only lower layer of its overlay, so an unchanged
// node_modules is neither copied into the build nor written back to the cache
// (docs/buildpacks.md, "Layers kept from the last build"). Offered only to the
// buildpack that runs first, only for names the source does not hold, and
// only when no link leads out of the cache. The build never writes into it:
// its changes land in its own upper layer, and a buildpack that keeps a new
// one writes `kept.next/`, moved over `kept/` by the collect once the build's
// mounts are gone.

import { lstatSync } from 'node:fs';
import path from 'node:path';
import { HELPER_ENV, inPrivateMounts, runProcess } from '../../exec/index.ts';

export interface KeptLayerMount {
  readonly cacheKey: string;
  /** The entries it puts at the top of the build directory. */
  readonly names: readonly string[];
  /** Its directory as the build's mounts see it (under the cache image's mount point). */
  readonly lower: string;
}

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SAFE_NAME = /^[A-Za-z0-9@._-]+$/;

/** Where a buildpack's kept layer is, relative to the cache image's root. */
export const keptDir = (cacheKey: string) => path.posix.join('buildpacks', cacheKey, 'kept');

// Fixed text; the mount binary, the image, the mount point and the kept dir arrive as positional parameters.
// Read-only and without replaying the journal: nothing is written. A link anywhere on the way: no offer.
const PEEK_SCRIPT = [
  'set -e',
  '"$1" -n -i -t ext4 -o loop,ro,noload,nosuid,nodev "$2" "$3"',
  'dir="$3/$4/build-dir"',
  '[ -d "$dir" ] && [ "$(realpath -e "$dir")" = "$(realpath -e "$3")/$4/build-dir" ] || exit 0',
  'ls -A "$dir"',
].join('\n');

/** The kept layer of buildpack `cacheKey` in the cache image, or null when there is none to offer. */
export async function peekKeptLayer(request: {
  readonly image: string;
  readonly mountPoint: string;
  readonly cacheKey: string | undefined;
  readonly buildDir: string;
  readonly signal?: AbortSignal | undefined;
}): Promise<KeptLayerMount | null> {
  const { cacheKey } = request;
  if (cacheKey === undefined || !SAFE_KEY.test(cacheKey)) return null;
  if (lstatSync(request.image, { throwIfNoEntry: false }) === undefined) return null;
  const names: string[] = [];
  const result = await runProcess(
    [
      ...inPrivateMounts(PEEK_SCRIPT, 'slipway-kept-layer'),
      'mount',
      request.image,
      request.mountPoint,
      keptDir(cacheKey),
    ],
    {
      env: HELPER_ENV,
      onLine: (stream, line) => {
        if (stream === 'stdout') names.push(line);
      },
      signal: request.signal,
      timeoutMs: 30_000,
    },
  );
  if (result.code !== 0 || names.length === 0 || !names.every((name) => SAFE_NAME.test(name))) return null;
  // What the source holds wins, whole: a layer is never merged into the app's own files.
  if (names.some((name) => lstatSync(path.join(request.buildDir, name), { throwIfNoEntry: false }) !== undefined))
    return null;
  return { cacheKey, names, lower: path.join(request.mountPoint, keptDir(cacheKey), 'build-dir') };
}
