// Build steps in the sandbox, shaped like build/'s BuildRunner: the build and
// its cache are handed to the app's own user first (the source was unpacked
// by root), then every step runs sandboxed as that user, with the build
// directory and the app's build cache as its only writable places, each
// bounded by an image of its own where the host can make them (build-layer.ts);
// the build's workspace (its buildpacks and ENV_DIR) is theirs to read only.

import { type Dirent, lchownSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { type ContainerLimits, limitsOf } from '../../core/container-size.ts';
import { HELPER_ENV, type RunOptions, type RunResult, runChecked } from '../../exec/index.ts';
import { type BuildLayer, createBuildLayer } from './build-layer.ts';
import type { KeptLayerMount } from './kept-layer.ts';
import { runSandboxed } from './run-sandboxed.ts';
import type { Sandbox } from './sandbox.ts';

/** Builds (npm ci, bundlers) need more room than most apps: they run in size XL. */
export const BUILD_LIMITS: ContainerLimits = limitsOf('XL');

export interface BuildDirs {
  readonly buildDir: string;
  readonly cacheDir: string;
  /** Read-only inside: the buildpacks and ENV_DIR. */
  readonly workspace?: string;
  /** The cache key of the buildpack that runs first: its kept layer is offered (kept-layer.ts). */
  readonly layerKey?: string;
}

export function sandboxBuildRunner(
  sandbox: Sandbox,
  user: { readonly uid: number; readonly gid: number },
  limits: ContainerLimits = BUILD_LIMITS,
) {
  let dirs: BuildDirs | undefined;
  let layer: BuildLayer | null = null;
  return {
    async prepare(prepared: BuildDirs, signal?: AbortSignal): Promise<KeptLayerMount | null> {
      dirs = prepared;
      const trees = [prepared.buildDir, prepared.cacheDir];
      if (prepared.workspace !== undefined) trees.push(prepared.workspace);
      await chownTrees(trees, user, signal);
      layer = createBuildLayer(sandbox, { ...prepared, owner: user });
      return (await layer?.offer(prepared.layerKey, signal)) ?? null;
    },
    run(argv: readonly string[], options: RunOptions & { readonly cwd: string }): Promise<RunResult> {
      if (dirs === undefined) throw new Error('sandboxBuildRunner: prepare() must run first');
      return runSandboxed(sandbox, argv, { ...options, ...user, limits, ...dirs, layer });
    },
    /** Puts what the steps wrote (in their bounded layer) into the build directory. */
    async finish(options: { readonly signal?: AbortSignal; readonly timeoutMs: number }): Promise<void> {
      await layer?.collect(options);
    },
    async dispose(): Promise<void> {
      await layer?.release();
    },
  };
}

/**
 * Up to this many entries, the trees are handed over in-process: a few hundred
 * lchown calls cost less than starting a `chown` process.
 */
const IN_PROCESS_MAX_ENTRIES = 256;

/** Gives every entry of the trees to the user; symlinks themselves change, their targets never. */
async function chownTrees(
  roots: readonly string[],
  user: { readonly uid: number; readonly gid: number },
  signal?: AbortSignal,
) {
  const entries = smallTree(roots);
  if (entries !== null) {
    for (const entry of entries) lchownSync(entry, user.uid, user.gid);
    return;
  }
  // -P: never follow a symlink the source may contain; change the link itself.
  await runChecked(['chown', '-R', '-P', '--no-dereference', `${user.uid}:${user.gid}`, '--', ...roots], {
    env: HELPER_ENV,
    signal,
  });
}

/** Every path of the trees, or null when they hold more than IN_PROCESS_MAX_ENTRIES (or cannot be read). */
function smallTree(roots: readonly string[]): string[] | null {
  const entries: string[] = [];
  const pending = [...roots];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    entries.push(dir);
    let children: Dirent[];
    try {
      children = readdirSync(dir, { withFileTypes: true });
    } catch {
      return null; // `chown -R` says what is wrong
    }
    for (const child of children) {
      const entry = path.join(dir, child.name);
      // A Dirent describes the entry itself: a symlink to a directory is not walked into.
      if (child.isDirectory()) pending.push(entry);
      else entries.push(entry);
    }
    if (entries.length + pending.length > IN_PROCESS_MAX_ENTRIES) return null;
  }
  return entries;
}
