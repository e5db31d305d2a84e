// Runs one build command (`npm ci`, `npm run build`) to completion, streaming
// its output, and turns every way it can end badly (exit code, signal, build
// deadline, cancellation) into a `build.failed` that says which and why.

import { SlipwayError } from '../core/errors.ts';
import { type OutputStream, type RunOptions, type RunResult, runProcess } from '../exec/index.ts';

/**
 * How build steps run: bare by default (`runProcess`), or sandboxed as the
 * app's own user (the server wires runtime/sandbox in). `prepare` runs once,
 * before anything else, with the directories the build writes; `finish` once
 * the steps succeeded, to leave their result in the build directory (a
 * sandbox that bounds the build keeps it aside until then); `dispose` always,
 * last.
 */
export interface BuildDirs {
  /** Writable: the source, which becomes the slug. */
  readonly buildDir: string;
  /** Writable: the app's build cache, kept between builds. */
  readonly cacheDir: string;
  /** Read-only for the steps: the buildpacks' copies and ENV_DIR. */
  readonly workspace?: string;
  /** The cache key of the buildpack that runs first, whose kept layer the runner may offer. */
  readonly layerKey?: string;
}

/**
 * What a buildpack kept for the next build in `CACHE_DIR/kept/build-dir`, offered as a read-only,
 * copy-on-write lower layer of the build directory (docs/buildpacks.md, "Layers kept from the last build").
 */
export interface KeptLayer {
  readonly cacheKey: string;
  /** The entries it puts at the top of the build directory (node_modules). */
  readonly names: readonly string[];
  /** Its size (KiB) when it is stored outside the cache directory: counted in the cache's cap. */
  readonly kib?: number;
}

export interface BuildRunner {
  /** Returns the kept layer it mounts under the build directory, if any. */
  prepare?(dirs: BuildDirs, signal?: AbortSignal): Promise<KeptLayer | null | undefined>;
  run(argv: readonly string[], options: RunOptions & { readonly cwd: string }): Promise<RunResult>;
  finish?(options: { readonly signal?: AbortSignal; readonly timeoutMs: number }): Promise<void>;
  dispose?(): Promise<void>;
}

export interface BuildCommandOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onLine: (line: string) => void;
  /** Epoch ms by which the whole build must be done. */
  readonly deadline: number;
  /** The build timeout, for the error message. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly runner?: BuildRunner | undefined;
  /** What the errors call the command (asked when one happens); default: its argv. */
  readonly label?: () => string;
}

export async function runBuildCommand(argv: readonly string[], options: BuildCommandOptions): Promise<void> {
  const labelNow = () => options.label?.() ?? argv.join(' ');
  if (options.signal?.aborted) throw failed(`${labelNow()} was not started: the build was cancelled`);
  const remaining = options.deadline - Date.now();
  if (remaining <= 0)
    throw failed(`${labelNow()} was not started: the build timeout (${formatMs(options.timeoutMs)}) is used up`);

  const run = options.runner?.run ?? runProcess;
  const exit = await run(argv, {
    cwd: options.cwd,
    env: options.env,
    onLine: (_stream: OutputStream, line: string) => options.onLine(line),
    timeoutMs: remaining,
    signal: options.signal,
  });

  const label = labelNow();
  if (exit.timedOut)
    throw failed(`${label} ran past the build timeout of ${formatMs(options.timeoutMs)} and was killed`);
  if (exit.aborted) throw failed(`${label} was stopped: the build was cancelled`);
  if (exit.spawnError !== undefined) throw failed(`${label} could not be started: ${exit.spawnError}`);
  if (exit.code !== 0) {
    throw failed(
      exit.code === null ? `${label} was killed by ${exit.signal}` : `${label} exited with code ${exit.code}`,
    );
  }
}

function failed(message: string): SlipwayError {
  return new SlipwayError('build.failed', message);
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
