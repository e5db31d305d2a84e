// What a sandboxed build may write, bounded (layer-images.ts): the build's
// steps see the unpacked source through an overlay whose writable layer is an
// image of BUILD_DISK_BYTES, and their HOME (the npm cache) is the app's own
// cache image of BUILD_CACHE_BYTES, kept between builds. Both are mounted only
// in each step's private mount namespace. Once the build is done, `collect`
// copies what the steps made of the source (the merged view) back into the
// build directory, which becomes the slug, the kept layer's entries as links
// (slug-links.ts), and moves a kept layer the build left in its cache out to
// the host (kept-layer.ts): a root helper in a private mount namespace of its
// own, killed on abort or deadline.

import { realpathSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { BUILD_CACHE_BYTES, BUILD_DISK_BYTES } from '../../core/container-size.ts';
import { diskFull, SlipwayError } from '../../core/errors.ts';
import { HELPER_ENV, inPrivateMounts, runProcess } from '../../exec/index.ts';
import { overlayOptions } from '../overlay-mount.ts';
import { type KeptLayerMount, keepable, keptDir, keptHome, peekKeptLayer, unpinKeptLayer } from './kept-layer.ts';
import type { LayerImage, LayerImages, LayerOwner } from './layer-images.ts';
import type { Sandbox } from './sandbox.ts';
import type { SetupMount } from './sandbox-argv.ts';
import { LINK_DELTA_SCRIPT, LINK_DELTA_SH } from './slug-links.ts';

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
  let layerKey: string | undefined;
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
    async offer(cacheKey) {
      layerKey = cacheKey;
      kept = peekKeptLayer({ cacheDir: request.cacheDir, cacheKey, buildDir: request.buildDir });
      return kept;
    },
    async mounts() {
      const [layer, cache] = await made();
      used = true;
      const { mountPoints } = sandbox;
      // The cache first: the kept layer is seen in it, read-only, at CACHE_DIR/kept.
      const keptView: SetupMount[] =
        kept === null
          ? []
          : [
              {
                kind: 'robind',
                source: kept.store,
                target: path.join(realpathSync(mountPoints.cache), keptDir(kept.cacheKey)),
              },
            ];
      return [
        { kind: 'ext4', source: cache.file, target: mountPoints.cache },
        ...keptView,
        { kind: 'ext4', source: layer.file, target: mountPoints.layer },
        { kind: 'overlay', options: overlay(mountPoints.build), target: mountPoints.build },
      ];
    },
    async collect({ signal, timeoutMs }) {
      if (!used) return; // no step ran: the build directory is the result as it is
      const [layer, cache] = await made();
      const keeps = keepable(layerKey) ? { image: cache.file, cacheKey: layerKey } : null;
      try {
        await collectInto(request, layer, overlay(sandbox.mountPoints.build), sandbox, keeps, kept, {
          signal,
          timeoutMs,
        });
      } finally {
        if (kept !== null) await unpinKeptLayer(kept);
      }
    },
    async release() {
      if (kept !== null) await unpinKeptLayer(kept);
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
// options and the destination arrive as positional parameters, then the
// offered kept layer (where it is during the build and the names it
// offered, or two empty ones), node and the link script, and, when the first
// buildpack may keep a layer, where it is kept on the host, the cache image
// (gone when the cache was cleared meanwhile: then nothing is taken), its
// mount point and the kept dir in it.
// `cp -a` as root keeps the app's ownership, modes, links and times; nothing
// of the app runs meanwhile, and a symlink is copied as a link, never
// followed. An offered name that the build kept as a directory is linked from
// the kept layer, what the build changed in it put on top (slug-links.ts;
// should that fail, a file's links at their limit, the name is copied);
// the rest is copied from the merged view by one `cp` per core, a few entries
// at a time: every entry two levels down (node_modules/express…), and what
// the top level holds besides its non-empty folders, whose attributes
// `--parents` copies as it makes them. Hard links between entries copied by
// different `cp` become copies. Then, once the overlay is gone, a kept layer
// the build left in its cache (`kept.next/`, or `kept/` when none was
// offered) is copied out to the host, its group and other write bits off (as
// the slug store leaves a slug's files), and swapped in; the cache keeps an
// empty `kept/`, where the next build sees it. A link anywhere on the way in
// the cache: nothing is taken.
const COLLECT_SCRIPT = [
  'set -ef',
  LINK_DELTA_SH,
  'mount=$1 upper="$3/upper" merged=$5 dest=$6 links=$7 names=$8 node=$9',
  '"$mount" -n -i -t ext4 -o loop,nosuid,nodev,noatime,noinit_itable "$2" "$3"',
  '"$mount" -t overlay overlay -o "$4" "$merged"',
  'shift 9',
  'delta=$1 store=$2',
  'mkdir "$dest"',
  'cd "$merged"',
  'skip=',
  'for n in $names; do',
  '  [ -d "$n" ] && [ ! -L "$n" ] || continue',
  '  if [ -e "$upper/$n" ] || [ -L "$upper/$n" ]; then [ -d "$upper/$n" ] && [ ! -L "$upper/$n" ] || continue; fi',
  '  if cp -al "$links/build-dir/$n" "$dest/$n" && { [ ! -d "$upper/$n" ] ||',
  '    link_delta "$node" "$delta" "$merged" "$upper" "$dest" "$n"; }; then skip="$skip -path ./$n -prune -o"',
  '  else rm -rf "$dest/$n"; fi',
  'done',
  'find . -mindepth 1 -maxdepth 2 $skip \\( -path "./*/*" -o ! -type d -o -empty \\) -print0 |',
  '  xargs -0 -r -n 25 -P "$(nproc)" cp -a --parents -t "$dest" --',
  'chown --reference=. "$dest"',
  'chmod --reference=. "$dest"',
  'touch --no-dereference --reference=. "$dest"',
  '[ $# -ge 5 ] || exit 0',
  'cd /',
  'umount "$merged"',
  '[ -f "$3" ] || exit 0',
  '"$mount" -n -i -t ext4 -o loop,nosuid,nodev,noatime,noinit_itable "$3" "$4"',
  'bp="$(realpath -e "$4")/$5" && up=$(dirname "$bp")',
  '[ "$(realpath -e "$up" 2>/dev/null)" = "$up" ] || exit 0',
  'for new in "$bp.next" "$bp" ""; do',
  '  [ -z "$new" ] || [ "$(realpath -e "$new/build-dir" 2>/dev/null)" = "$new/build-dir" ] && break',
  'done',
  '[ -n "$new" ] || exit 0',
  'mkdir -p -m 0700 "$(dirname "$store")"',
  'rm -rf "$store.new" "$store.old"',
  'cp -a "$new" "$store.new"',
  'chmod -R go-w "$store.new"',
  'du -sk "$store.new" | cut -f1 >"$store.kib"',
  '[ ! -e "$store" ] || mv "$store" "$store.old"',
  'mv "$store.new" "$store"',
  'rm -rf "$store.old" "$new"',
  'if mkdir "$bp" 2>/dev/null; then chown -h --reference="$up" "$bp"; fi',
].join('\n');

/** Replaces `buildDir` with the merged view (source + what the build wrote); moves a new kept layer out. */
async function collectInto(
  request: BuildLayerRequest,
  layer: LayerImage,
  overlay: string,
  sandbox: Sandbox,
  keeps: { readonly image: string; readonly cacheKey: string } | null,
  offered: KeptLayerMount | null,
  options: { readonly signal?: AbortSignal; readonly timeoutMs: number },
): Promise<void> {
  const { buildDir } = request;
  const copy = `${buildDir}.built`;
  const stale = `${buildDir}.source`;
  await rm(copy, { recursive: true, force: true });
  const store = keeps === null ? '' : path.join(keptHome(request.cacheDir), keeps.cacheKey);
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
      offered?.store ?? '',
      offered?.names.join(' ') ?? '',
      process.execPath,
      LINK_DELTA_SCRIPT,
      ...(keeps === null ? [] : [store, keeps.image, sandbox.mountPoints.cache, keptDir(keeps.cacheKey)]),
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
