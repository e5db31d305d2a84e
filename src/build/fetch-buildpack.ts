// Turns a buildpack's name into a folder on this host: a built-in from the
// repository's `buildpacks/`, a git repository's commit (fetched once, then
// kept under `$SLIPWAY_HOME/buildpacks/<url hash>/<commit>` and reused), or a
// local folder (only when the server allows them). The git transport itself
// (ls-remote, fetch, the destination checks) is source/'s, injected.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildpackSpec } from '../core/buildpack-spec.ts';
import { SlipwayError } from '../core/errors.ts';

export interface GitBuildpackFetcher {
  /** The commit `ref` names on the remote now; null when it names no branch or tag (a commit, maybe). */
  resolve(url: string, ref: string): Promise<string | null>;
  /** Puts the tree of `ref`'s commit into the new folder `dest`; returns the commit. */
  fetch(url: string, ref: string, dest: string): Promise<string>;
}

export interface BuildpackSources {
  /** The folder holding the built-in buildpacks (`<checkout>/buildpacks`). */
  readonly builtinDir: string;
  /** SLIPWAY_ALLOW_LOCAL_BUILDPACKS: whether a folder of this host may be a buildpack. */
  readonly allowLocal: boolean;
  /** Git buildpacks: the transport, and where fetched commits are kept. */
  readonly git?: { readonly fetcher: GitBuildpackFetcher; readonly cacheDir: string };
}

export interface LocatedBuildpack {
  /** The name shown in the log and in errors. */
  readonly label: string;
  readonly dir: string;
  /** Names the buildpack's own cache folder under the app's cache. */
  readonly cacheKey: string;
}

/** `<checkout>/buildpacks`, found upwards from this module (src/build or dist/…/bundle). */
export function defaultBuiltinDir(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'buildpacks', 'procfile', 'bin', 'compile'))) return path.join(dir, 'buildpacks');
    if (path.dirname(dir) === dir) return path.join(from, 'buildpacks');
  }
}

/** The folder of a built-in, or null when this server has no such folder (static, until it ships). */
export function builtinFolder(sources: BuildpackSources, name: string): string | null {
  const dir = path.join(sources.builtinDir, name);
  return existsSync(path.join(dir, 'bin')) ? dir : null;
}

export async function locateBuildpack(
  spec: BuildpackSpec,
  sources: BuildpackSources,
  log: (line: string) => void,
): Promise<LocatedBuildpack> {
  switch (spec.kind) {
    case 'builtin': {
      const dir = builtinFolder(sources, spec.name);
      if (dir === null) throw failed(`buildpack ${spec.text}: this server has no built-in ${spec.name}`);
      return { label: spec.name, dir, cacheKey: spec.name };
    }
    case 'local':
      return {
        label: spec.text,
        dir: localFolder(spec.path, spec.text, sources),
        cacheKey: `local-${hash(spec.path)}`,
      };
    case 'git': {
      const dir = await gitFolder(spec.url, spec.ref, sources, log);
      return { label: spec.text, dir, cacheKey: `git-${hash(spec.url)}` };
    }
  }
}

function localFolder(folder: string, text: string, sources: BuildpackSources): string {
  if (!sources.allowLocal) {
    throw failed(`buildpack ${text}: local folders are not allowed on this server (SLIPWAY_ALLOW_LOCAL_BUILDPACKS=1)`);
  }
  let real: string;
  try {
    real = realpathSync(folder);
  } catch {
    throw failed(`buildpack ${text}: no such folder on the server`);
  }
  if (!statSync(real).isDirectory()) throw failed(`buildpack ${text}: not a folder`);
  return real;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

async function gitFolder(url: string, ref: string | null, sources: BuildpackSources, log: (line: string) => void) {
  if (sources.git === undefined) throw failed(`buildpack ${url}: git buildpacks are not available on this server`);
  const { fetcher, cacheDir } = sources.git;
  const repoDir = path.join(cacheDir, hash(url));
  const wanted = ref ?? 'HEAD';
  const commit = FULL_SHA.test(wanted) ? wanted : await fetcher.resolve(url, wanted);
  if (commit !== null && existsSync(path.join(repoDir, commit))) {
    log(`       using ${url} at ${commit.slice(0, 12)} (fetched before)`);
    return path.join(repoDir, commit);
  }
  mkdirSync(repoDir, { recursive: true, mode: 0o700 });
  const tmp = path.join(repoDir, `.fetch-${randomBytes(6).toString('hex')}`);
  try {
    const fetched = await fetcher.fetch(url, wanted, tmp);
    const dest = path.join(repoDir, fetched);
    // Another build may have fetched the same commit meanwhile: either copy is good.
    if (existsSync(dest)) return dest;
    renameSync(tmp, dest);
    log(`       fetched ${url} at ${fetched.slice(0, 12)}`);
    return dest;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function failed(message: string): SlipwayError {
  return new SlipwayError('build.failed', message);
}
