// The build step: runs the app's buildpacks (Heroku buildpack API v2) over
// the unpacked source, which becomes the slug. Which buildpacks: the app's
// own list, BUILDPACK_URL, `.buildpacks`, the manifest's, else the first
// built-in that detects the app (resolve-buildpacks.ts). Then the process
// types are settled (the Procfile's, and the buildpacks' defaults for types
// it lacks), `.slugignore` is applied and the slug measured. Output is
// streamed line by line, Heroku style.

import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_BUILDPACKS } from '../core/buildpack-spec.ts';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import { buildEnv } from './build-env.ts';
import { type RanBuildpack, runBuildpacks, stageBuildpacks } from './buildpack-runner.ts';
import { writeEnvDir } from './env-dir.ts';
import {
  type BuildpackSources,
  builtinFolder,
  defaultBuiltinDir,
  type LocatedBuildpack,
  locateBuildpack,
} from './fetch-buildpack.ts';
import { applySlugignore, SLUG_WARN_BYTES, slugSize } from './finish-slug.ts';
import { nothingToBuild } from './nothing-to-build.ts';
import { readManifest, readProcfile } from './read-app-files.ts';
import { resolveBuildpacks } from './resolve-buildpacks.ts';
import type { BuildRunner } from './run-build-command.ts';

export const DEFAULT_BUILD_TIMEOUT_MS = 15 * 60_000;
/** The per-app build cache's default cap (SLIPWAY_BUILD_CACHE_MAX). */
export const DEFAULT_CACHE_CAP_BYTES = 1024 ** 3;

export interface BuildOptions {
  readonly app: string;
  /** The unpacked source, modified in place. */
  readonly buildDir: string;
  readonly sourceVersion: string | null;
  /** `$SLIPWAY_HOME/cache/<app>`: the build's HOME; each buildpack's CACHE_DIR is `buildpacks/<key>` in it. */
  readonly cacheDir: string;
  readonly onLine: (line: string) => void;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Where build steps run; default: bare processes. */
  readonly runner?: BuildRunner;
  /** The config the new release will run with: ENV_DIR's files, and BUILDPACK_URL. */
  readonly config?: Readonly<Record<string, string>>;
  /** The app's own buildpacks (`slipway buildpacks:set`); empty: none set. */
  readonly appBuildpacks?: readonly string[];
  /** Where buildpacks come from; default: this checkout's built-ins only. */
  readonly sources?: BuildpackSources;
  /** The app's build cache is trimmed to this before the build (oldest buildpack caches out). */
  readonly cacheCapBytes?: number;
}

export interface BuildResult {
  readonly processes: Record<string, string>;
  readonly procfilePostdeploy: string | null;
  readonly procfileRelease: string | null;
  readonly manifest: ManifestScripts | null;
  /** What was built: the detected names of the buildpacks that ran ("Node.js", "Procfile"). */
  readonly detected: string;
  /** Config var defaults from the buildpacks' bin/release, for vars the app does not set. */
  readonly configDefaults: Readonly<Record<string, string>>;
}

/** The STACK build variable: the host's system as Slipway's build sees it (docs/buildpacks.md). */
export const STACK = 'slipway-1';

const INDENT = '       ';

export async function buildApp(options: BuildOptions): Promise<BuildResult> {
  // The buildpacks' copies and ENV_DIR, beside the build directory (never in the slug).
  const workspace = `${options.buildDir}.buildpacks`;
  try {
    return await build(options, workspace);
  } finally {
    await options.runner?.dispose?.();
    rmSync(workspace, { recursive: true, force: true });
  }
}

async function build(options: BuildOptions, workspace: string): Promise<BuildResult> {
  const { buildDir, onLine } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const config = options.config ?? {};
  const sources = options.sources ?? { builtinDir: defaultBuiltinDir(), allowLocal: false };
  // Read first: a malformed Procfile or manifest fails before a long install.
  await readProcfile(buildDir);
  const manifest = await readManifest(buildDir);
  const choice = await resolveBuildpacks({
    buildDir,
    appBuildpacks: options.appBuildpacks ?? [],
    config,
    manifest,
  });
  let located: LocatedBuildpack[];
  if (choice === null) {
    located = BUILTIN_BUILDPACKS.flatMap((name) => {
      const dir = builtinFolder(sources, name);
      return dir === null ? [] : [{ label: name, dir, cacheKey: name }];
    });
  } else {
    onLine(`-----> Buildpacks from ${choice.origin}: ${choice.specs.map((s) => s.text).join(', ')}`);
    located = [];
    for (const spec of choice.specs) located.push(await locateBuildpack(spec, sources, onLine));
  }

  const ran =
    choice === null && (await nothingToBuild(buildDir, located))
      ? procfileOnly(onLine)
      : await runInSandbox(options, workspace, located, choice === null ? 'auto' : 'listed', deadline, timeoutMs);

  if (manifest?.addons?.length) {
    onLine(`${INDENT}${manifest.file} add-ons recorded with the release: ${manifest.addons.join(', ')}`);
  }
  const types = await processTypes(buildDir, ran, onLine);
  const ignored = await applySlugignore(buildDir, options.signal);
  if (ignored > 0) onLine(`${INDENT}.slugignore removed ${ignored} path(s) from the slug`);
  const size = await slugSize(buildDir, options.signal);
  if (size !== null) {
    onLine(`-----> Slug size: ${formatBytes(size)}`);
    if (size > SLUG_WARN_BYTES)
      onLine(
        `${INDENT}warning: the slug is over ${formatBytes(SLUG_WARN_BYTES)}: boots and rollbacks copy less when it is smaller (.slugignore, pruned devDependencies)`,
      );
  }
  return {
    ...types,
    manifest,
    detected: ran.map((bp) => bp.name).join(', '),
    configDefaults: Object.assign({}, ...ran.map((bp) => bp.release.configVars)),
  };
}

/** What the procfile buildpack says and does, without a sandbox to start (nothing-to-build.ts). */
function procfileOnly(onLine: (line: string) => void): RanBuildpack[] {
  onLine('-----> Using buildpack: procfile');
  onLine('-----> Procfile app detected');
  onLine('-----> Nothing to build: the Procfile says how to run the app');
  return [{ label: 'procfile', name: 'Procfile', release: { defaultProcessTypes: {}, configVars: {} } }];
}

/** The buildpacks, run by the driver in one sandboxed process (buildpack-runner.ts). */
async function runInSandbox(
  options: BuildOptions,
  workspace: string,
  located: readonly LocatedBuildpack[],
  mode: 'auto' | 'listed',
  deadline: number,
  timeoutMs: number,
): Promise<RanBuildpack[]> {
  const { buildDir } = options;
  rmSync(workspace, { recursive: true, force: true });
  mkdirSync(workspace, { mode: 0o700 });
  writeEnvDir(path.join(workspace, 'env'), options.config ?? {});
  const staged = stageBuildpacks(workspace, located);
  // One metadata call: synchronous, where a trip to the thread pool costs milliseconds on a busy host.
  mkdirSync(options.cacheDir, { recursive: true, mode: 0o700 });
  const layerKey = located[0]?.cacheKey;
  const kept = await options.runner?.prepare?.(
    { buildDir, cacheDir: options.cacheDir, workspace, ...(layerKey === undefined ? {} : { layerKey }) },
    options.signal,
  );
  const ran = await runBuildpacks(
    {
      mode,
      buildpacks: staged,
      buildDir,
      cacheDir: options.cacheDir,
      workspace,
      cacheCapBytes: options.cacheCapBytes ?? DEFAULT_CACHE_CAP_BYTES,
      kept: kept || null,
    },
    {
      env: { ...buildEnv(options), STACK },
      onLine: options.onLine,
      deadline,
      timeoutMs,
      signal: options.signal,
      runner: options.runner,
    },
  );
  await options.runner?.finish?.({ signal: options.signal, timeoutMs: Math.max(1, deadline - Date.now()) });
  return ran;
}

/** The Procfile (read again: a buildpack may have written it), then buildpack defaults for the types it lacks. */
async function processTypes(buildDir: string, ran: readonly RanBuildpack[], onLine: (line: string) => void) {
  onLine('-----> Discovering process types');
  const procfile = await readProcfile(buildDir);
  const processes: Record<string, string> = { ...(procfile?.processes ?? {}) };
  if (procfile !== null) {
    const types = Object.keys(processes);
    onLine(`${INDENT}Procfile declares types -> ${types.length > 0 ? types.join(', ') : '(none)'}`);
    if (procfile.release !== null)
      onLine(`${INDENT}Procfile declares a release phase (runs before the new containers boot)`);
    if (procfile.postdeploy !== null) onLine(`${INDENT}Procfile declares a postdeploy hook`);
  }
  // The last buildpack's defaults win, as on Heroku; the Procfile's types win over all.
  for (const bp of [...ran].reverse()) {
    const added = Object.entries(bp.release.defaultProcessTypes).filter(([type]) => processes[type] === undefined);
    if (added.length === 0) continue;
    for (const [type, command] of added) processes[type] = command;
    onLine(`${INDENT}Default types for ${bp.label} -> ${added.map(([t, c]) => `${t} (${c})`).join(', ')}`);
  }
  if (Object.keys(processes).length === 0) {
    throw new SlipwayError(
      'build.failed',
      'no process types: add a Procfile with a web process, or use a buildpack whose bin/release declares default_process_types (e.g. nodejs with a "start" script)',
    );
  }
  return {
    processes,
    procfilePostdeploy: procfile?.postdeploy ?? null,
    procfileRelease: procfile?.release ?? null,
  };
}
