// What a sandboxed build may write, bounded (layer-images.ts): the build's
// steps see the unpacked source through an overlay whose writable layer is an
// image of BUILD_DISK_BYTES, and their HOME (the npm cache) is the app's own
// cache image of BUILD_CACHE_BYTES, kept between builds. Both are mounted only
// in each step's private mount namespace. Once the build is done, `collect`
// copies what the steps made of the source (the merged view) back into the
// build directory, which becomes the slug: a root helper in a private mount
// namespace of its own, killed on abort or deadline.

import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { BUILD_CACHE_BYTES, BUILD_DISK_BYTES } from '../../core/container-size.ts';
import { diskFull, SlipwayError } from '../../core/errors.ts';
import { HELPER_ENV, inPrivateMounts, runProcess } from '../../exec/index.ts';
import { overlayOptions } from '../overlay-mount.ts';
import { type KeptLayerMount, keptDir, peekKeptLayer } from './kept-layer.ts';
import type { LayerImage, LayerImages, LayerOwner } from './layer-images.ts';
import type { Sandbox } from './sandbox.ts';
import type { SetupMount } from './sandbox-argv.ts';

export interface BuildLayer {
  /**
   * Looks for the kept layer of buildpack `cacheKey` (kept-layer.ts) and, when there is one to
   * offer, mounts it under the build directory in every step and in the collect. Before `mounts`.
   */
  offer(cacheKey: string | undefined, signal?: AbortSignal): Promise<KeptLayerMount | null>;
  /** The setup mounts of a build step: the source with its writable layer at `build`, the cache image at `cache`. */
  mounts(): Promise<SetupMount[]>;
  /** Copies the build's result into `buildDir` (when a step wrote anything). */
  collect(options: { readonly signal?: AbortSignal; readonly timeoutMs: number }): Promise<void>;
  /** Deletes the build's layer (the cache image stays). Idempotent. */
  release(): Promise<void>;
}

export interface BuildLayerRequest {
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly owner: LayerOwner;
}

/** The cache image of the app whose build cache directory is `cacheDir`. */
export function cacheImageOf(cacheDir: string): string {
  return `${cacheDir.replace(/\/+$/, '')}.img`;
}

/** A bounded layer for one build; null when the sandbox cannot make images (then the build writes on the host). */
export function createBuildLayer(sandbox: Sandbox, request: BuildLayerRequest): BuildLayer | null {
  const { layers } = sandbox;
  if (layers === null) return null;
  let images: Promise<[LayerImage, LayerImage]> | undefined;
  let used = false;
  let kept: KeptLayerMount | null = null;
  const made = () => {
    images ??= makeBoth(layers, request);
    return images;
  };
  const overlay = (target: string) =>
    overlayOptions({
      lower: request.buildDir,
      upper: path.join(sandbox.mountPoints.layer, 'upper'),
      work: path.join(sandbox.mountPoints.layer, 'work'),
      target,
      below: kept === null ? [] : [kept.lower],
    });
  return {
    async offer(cacheKey, signal) {
      const { cacheDir, buildDir } = request;
      const mountPoint = sandbox.mountPoints.cache;
      kept = await peekKeptLayer({ image: cacheImageOf(cacheDir), mountPoint, cacheKey, buildDir, signal });
      return kept;
    },
    async mounts() {
      const [layer, cache] = await made();
      used = true;
      const { mountPoints } = sandbox;
      // The cache first: the build directory's overlay may have a layer in it.
      return [
        { kind: 'ext4', source: cache.file, target: mountPoints.cache },
        { kind: 'ext4', source: layer.file, target: mountPoints.layer },
        { kind: 'overlay', options: overlay(mountPoints.build), target: mountPoints.build },
      ];
    },
    async collect({ signal, timeoutMs }) {
      if (!used) return; // no step ran: the build directory is the result as it is
      const [layer, cache] = await made();
      const withKept = kept === null ? null : { image: cache.file, dir: keptDir(kept.cacheKey) };
      await collectInto(request.buildDir, layer, overlay(sandbox.mountPoints.build), sandbox, withKept, {
        signal,
        timeoutMs,
      });
    },
    async release() {
      const pending = images;
      images = undefined;
      if (pending === undefined) return;
      const both = await pending.catch(() => null);
      if (both) await Promise.all(both.map((image) => layers.release(image)));
    },
  };
}

async function makeBoth(layers: LayerImages, request: BuildLayerRequest): Promise<[LayerImage, LayerImage]> {
  const layer = await layers.take(BUILD_DISK_BYTES, request.owner, { spare: false });
  try {
    return [layer, await layers.persistent(cacheImageOf(request.cacheDir), BUILD_CACHE_BYTES, request.owner)];
  } catch (err) {
    await layers.release(layer);
    throw err;
  }
}

// Fixed text; the mount binary, the layer, the mount points, the overlay's
// options and the destination arrive as positional parameters, then, with a
// kept layer (kept-layer.ts), the cache image, its mount point and the kept
// dir in it: mounted first (read-write: kept.next/ then replaces kept/, once
// the overlay is gone). A link anywhere on the way to the layer stops the
// build: as root, the overlay would otherwise show whatever it points to. `cp -a` as
// root keeps the app's ownership, modes, links and times; nothing of the app
// runs meanwhile, and a symlink is copied as a link, never followed.
// The copy runs as one `cp` per core, a few entries at a time: every entry two
// levels down (node_modules/express…), and what the top level holds besides
// its non-empty folders, whose attributes `--parents` copies as it makes
// them. Hard links between entries copied by different `cp` become copies.
const COLLECT_SCRIPT = [
  'set -e',
  'if [ -n "$7" ]; then',
  '  "$1" -n -i -t ext4 -o loop,nosuid,nodev,noatime,noinit_itable "$7" "$8"',
  '  kept="$(realpath -e "$8")/$9"',
  '  [ "$(realpath -e "$8/$9/build-dir")" = "$kept/build-dir" ] ||',
  '    { echo "the build replaced its kept layer by a link (or removed it)" >&2; exit 1; }',
  'fi',
  '"$1" -n -i -t ext4 -o loop,nosuid,nodev,noatime,noinit_itable "$2" "$3"',
  '"$1" -t overlay overlay -o "$4" "$5"',
  'mkdir "$6"',
  'cd "$5"',
  '{ find . -mindepth 2 -maxdepth 2 -print0; find . -mindepth 1 -maxdepth 1 \\( ! -type d -o -empty \\) -print0; } |',
  '  xargs -0 -r -n 25 -P "$(nproc)" cp -a --parents -t "$6" --',
  'chown --reference=. "$6"',
  'chmod --reference=. "$6"',
  'touch --no-dereference --reference=. "$6"',
  '[ -n "$7" ] && [ -d "$kept.next" ] || exit 0',
  'cd /',
  'umount "$5"',
  'rm -rf "$kept"',
  'mv "$kept.next" "$kept"',
].join('\n');

/** Replaces `buildDir` with a copy of the merged view (source + what the build wrote). */
async function collectInto(
  buildDir: string,
  layer: LayerImage,
  overlay: string,
  sandbox: Sandbox,
  kept: { readonly image: string; readonly dir: string } | null,
  options: { readonly signal?: AbortSignal; readonly timeoutMs: number },
): Promise<void> {
  const copy = `${buildDir}.built`;
  const stale = `${buildDir}.source`;
  await rm(copy, { recursive: true, force: true });
  const stderr: string[] = [];
  const result = await runProcess(
    [
      ...inPrivateMounts(COLLECT_SCRIPT, 'slipway-collect'),
      'mount',
      layer.file,
      sandbox.mountPoints.layer,
      overlay,
      sandbox.mountPoints.build,
      copy,
      ...(kept === null ? [] : [kept.image, sandbox.mountPoints.cache, kept.dir]),
    ],
    {
      env: HELPER_ENV,
      onLine: (stream, line) => {
        if (stream === 'stderr' && stderr.length < 20) stderr.push(line);
      },
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    },
  );
  if (result.code !== 0) {
    await rm(copy, { recursive: true, force: true });
    throw collectFailed(result, stderr);
  }
  await rename(buildDir, stale);
  await rename(copy, buildDir);
  await rm(stale, { recursive: true, force: true });
}

function collectFailed(result: Awaited<ReturnType<typeof runProcess>>, stderr: readonly string[]): SlipwayError {
  if (result.aborted) return new SlipwayError('build.failed', 'copying the build result was stopped: cancelled');
  if (result.timedOut) return new SlipwayError('build.failed', 'copying the build result ran past the build timeout');
  if (stderr.some((line) => /No space left on device/.test(line))) return diskFull('the build result');
  return new SlipwayError(
    'build.failed',
    `copying the build result failed: ${stderr.at(-1) ?? result.spawnError ?? `exit ${result.code}`}`,
  );
}
