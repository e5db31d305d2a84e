// The minimal build step: read the Procfile and manifest, install Node.js
// dependencies and run the `build` script when there is a package.json, then
// settle the process types. Runs in the unpacked source directory, which
// becomes the slug; output is streamed line by line, Heroku style.

import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import { buildEnv } from './build-env.ts';
import { readManifest, readPackageJson, readProcfile } from './read-app-files.ts';
import { type BuildRunner, runBuildCommand } from './run-build-command.ts';

export const DEFAULT_BUILD_TIMEOUT_MS = 15 * 60_000;

export interface BuildOptions {
  readonly app: string;
  /** The unpacked source, modified in place. */
  readonly buildDir: string;
  readonly sourceVersion: string | null;
  /** `$SLIPWAY_HOME/cache/<app>`: HOME and the npm cache of the build, kept between builds. */
  readonly cacheDir: string;
  readonly onLine: (line: string) => void;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Where build steps run; default: bare processes. */
  readonly runner?: BuildRunner;
}

export interface BuildResult {
  readonly processes: Record<string, string>;
  readonly procfilePostdeploy: string | null;
  readonly procfileRelease: string | null;
  readonly manifest: ManifestScripts | null;
  /** What was built: "Node.js", or "none" when there was nothing to install. */
  readonly detected: string;
}

const INDENT = '       ';

export async function buildApp(options: BuildOptions): Promise<BuildResult> {
  try {
    return await build(options);
  } finally {
    await options.runner?.dispose?.();
  }
}

async function build(options: BuildOptions): Promise<BuildResult> {
  const { buildDir, onLine } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  // Read first: a malformed Procfile or manifest fails before a long install.
  const procfile = await readProcfile(buildDir);
  const manifest = await readManifest(buildDir);
  const pkg = await readPackageJson(buildDir);
  // One metadata call: synchronous, where a trip to the thread pool costs milliseconds on a busy host.
  mkdirSync(path.join(options.cacheDir, 'npm'), { recursive: true, mode: 0o700 });
  await options.runner?.prepare?.({ buildDir, cacheDir: options.cacheDir }, options.signal);

  if (pkg === null) {
    onLine('-----> No package.json: nothing to install, the source is used as is');
  } else {
    onLine('-----> Node.js app detected');
    const env = buildEnv(options);
    const run = (argv: string[]) =>
      runBuildCommand(argv, {
        cwd: buildDir,
        env,
        onLine,
        deadline,
        timeoutMs,
        signal: options.signal,
        runner: options.runner,
      });
    const names = new Set(await fs.readdir(buildDir));
    const locked = names.has('package-lock.json') || names.has('npm-shrinkwrap.json');
    const install = locked ? ['npm', 'ci'] : ['npm', 'install'];
    onLine(`-----> Installing dependencies (${install.join(' ')})`);
    await run(install);
    if (pkg.scripts.build !== undefined) {
      onLine('-----> Running build script');
      await run(['npm', 'run', 'build']);
    }
    await options.runner?.finish?.({ signal: options.signal, timeoutMs: Math.max(1, deadline - Date.now()) });
  }
  if (manifest?.buildpacks?.length) {
    onLine(
      `${INDENT}${manifest.file} buildpacks recorded (Slipway's built-in Node.js build ran): ${manifest.buildpacks.join(', ')}`,
    );
  }
  if (manifest?.addons?.length) {
    onLine(`${INDENT}${manifest.file} add-ons recorded, not provisioned: ${manifest.addons.join(', ')}`);
  }
  onLine('-----> Discovering process types');
  const processes: Record<string, string> = { ...(procfile?.processes ?? {}) };
  if (procfile !== null) {
    const types = Object.keys(processes);
    onLine(`${INDENT}Procfile declares types -> ${types.length > 0 ? types.join(', ') : '(none)'}`);
    if (procfile.release !== null)
      onLine(`${INDENT}Procfile declares a release phase (runs before the new containers boot)`);
    if (procfile.postdeploy !== null) onLine(`${INDENT}Procfile declares a postdeploy hook`);
  }
  if (processes.web === undefined && pkg?.scripts.start !== undefined) {
    processes.web = 'npm start';
    onLine(`${INDENT}Default types for Node.js -> web (npm start)`);
  }
  if (Object.keys(processes).length === 0) {
    throw new SlipwayError(
      'build.failed',
      'no process types: add a Procfile with a web process, or a "start" script in package.json',
    );
  }
  return {
    processes,
    procfilePostdeploy: procfile?.postdeploy ?? null,
    procfileRelease: procfile?.release ?? null,
    manifest,
    detected: pkg === null ? 'none' : 'Node.js',
  };
}
