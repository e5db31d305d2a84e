// Runs a buildpack folder through the Heroku buildpack API v2 exactly as a
// runner would: bin/detect BUILD_DIR, bin/compile BUILD_DIR CACHE_DIR ENV_DIR,
// bin/release BUILD_DIR, through src/exec with real temporary directories and
// a clean environment (PATH, HOME=the cache, STACK, SOURCE_VERSION); then
// starts the built app Heroku style (.profile.d sourced, $PORT set) for HTTP
// requests on loopback.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PASSTHROUGH_VARS } from '../../src/build/build-env.ts';
import { type ProcessHandle, runProcess, spawnProcess, userShell } from '../../src/exec/index.ts';
import { deadPort } from './local-http.ts';
import { ROOT } from './slipway.ts';
import { delay } from './wait.ts';

export const BUILDPACKS = path.join(ROOT, 'buildpacks');
export const BUILDPACK_APPS = path.join(ROOT, 'test', 'fixtures', 'buildpack-apps');
export const STACK = 'slipway-1';
export const SOURCE_VERSION = '0123456789abcdef0123456789abcdef01234567';

export interface BuildDirs {
  readonly root: string;
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly envDir: string;
  remove(): Promise<void>;
}

/**
 * A fresh BUILD_DIR holding a copy of `fixture` (several: copied over each
 * other in order), an empty CACHE_DIR (or `cacheDir`), an ENV_DIR of `config`.
 */
export async function prepareBuild(
  fixture: string | readonly string[],
  config: Record<string, string> = {},
  cacheDir?: string,
): Promise<BuildDirs> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-bp-'));
  const buildDir = path.join(root, 'build');
  for (const layer of typeof fixture === 'string' ? [fixture] : fixture) {
    await fs.cp(path.join(BUILDPACK_APPS, layer), buildDir, { recursive: true, verbatimSymlinks: true });
  }
  const envDir = path.join(root, 'env');
  await fs.mkdir(envDir);
  for (const [name, value] of Object.entries(config)) await fs.writeFile(path.join(envDir, name), value);
  const cache = cacheDir ?? path.join(root, 'cache');
  await fs.mkdir(cache, { recursive: true });
  return {
    root,
    buildDir,
    cacheDir: cache,
    envDir,
    remove: () => fs.rm(root, { recursive: true, force: true }),
  };
}

/** The environment a runner gives a buildpack: nothing of the test process but the network settings. */
export function runnerEnv(cacheDir: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: cacheDir,
    LANG: 'C.UTF-8',
    STACK,
    SOURCE_VERSION,
  };
  for (const name of PASSTHROUGH_VARS) {
    const value = process.env[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  return env;
}

export interface StepResult {
  readonly code: number | null;
  /** stdout and stderr, line by line, as a runner streams them. */
  readonly lines: string[];
  readonly stdout: string;
  readonly output: string;
  readonly ms: number;
}

export async function runStep(
  buildpack: string,
  step: 'detect' | 'compile' | 'release',
  dirs: Pick<BuildDirs, 'buildDir' | 'cacheDir' | 'envDir'>,
  timeoutMs = 240_000,
): Promise<StepResult> {
  const bin = path.join(BUILDPACKS, buildpack, 'bin', step);
  const argv = step === 'compile' ? [bin, dirs.buildDir, dirs.cacheDir, dirs.envDir] : [bin, dirs.buildDir];
  const lines: string[] = [];
  const stdout: string[] = [];
  const started = Date.now();
  const result = await runProcess(argv, {
    cwd: dirs.buildDir,
    env: runnerEnv(dirs.cacheDir),
    timeoutMs,
    onLine: (stream, line) => {
      lines.push(line);
      if (stream === 'stdout') stdout.push(line);
    },
  });
  return {
    code: result.code,
    lines,
    stdout: stdout.join('\n'),
    output: lines.join('\n'),
    ms: Date.now() - started,
  };
}

/** The two maps bin/release may print (default_process_types, config_vars), from its small YAML. */
export function parseRelease(yaml: string): { processes: Record<string, string>; configVars: Record<string, string> } {
  const processes: Record<string, string> = {};
  const configVars: Record<string, string> = {};
  let section: Record<string, string> | null = null;
  for (const line of yaml.split('\n')) {
    const top = /^([a-z_]+):/.exec(line);
    if (top) {
      section = top[1] === 'default_process_types' ? processes : top[1] === 'config_vars' ? configVars : null;
      continue;
    }
    const entry = /^ {2}([A-Za-z0-9_-]+): (.*)$/.exec(line);
    if (entry && section) section[entry[1] as string] = entry[2] as string;
  }
  return { processes, configVars };
}

export interface RunningApp {
  readonly url: string;
  readonly port: number;
  readonly output: string[];
  stop(): Promise<void>;
}

/**
 * Starts `command` in the built app as a dyno would: config vars (and the
 * release's config_vars as defaults) in the environment, .profile.d/*.sh
 * sourced, $PORT set; resolves once the port accepts connections.
 */
export async function startApp(
  buildDir: string,
  command: string,
  env: Record<string, string> = {},
): Promise<RunningApp> {
  const port = await deadPort();
  const output: string[] = [];
  const script = `for f in .profile.d/*.sh; do [ -f "$f" ] && . "./$f"; done; exec ${command}`;
  const handle: ProcessHandle = spawnProcess(userShell(script), {
    cwd: buildDir,
    env: {
      PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: buildDir,
      LANG: 'C.UTF-8',
      PORT: String(port),
      ...env,
    },
    onLine: (_stream, line) => output.push(line),
  });
  let exited = false;
  void handle.exited.then(() => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`${command} exited before listening:\n${output.join('\n')}`);
    try {
      await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${command} did not listen on ${port}:\n${output.join('\n')}`);
      await delay(50);
    }
  }
  return {
    url,
    port,
    output,
    stop: async () => {
      await handle.stop(2000);
    },
  };
}

/** Every file under `dir` (relative paths), for looking inside a slug. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  return entries.map(String).sort();
}
