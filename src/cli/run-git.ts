// Runs the user's git for the CLI, in the user's own environment (their
// global excludes file and safe.directory settings apply), through src/exec.
// Stdout is kept byte for byte, so `-z` output survives intact.

import { HELPER_ENV, runProcess } from '../exec/index.ts';

export interface GitResult {
  /** False when git could not be started at all (not installed, not on the PATH). */
  readonly started: boolean;
  readonly code: number | null;
  readonly stdout: string;
  /** Git's message, without its `fatal: ` prefix. */
  readonly stderr: string;
}

/** Variables that would point git at another repository than the one around `cwd`. */
const REPO_OVERRIDES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_PREFIX'];

export async function runGit(cwd: string, env: NodeJS.ProcessEnv, args: readonly string[]): Promise<GitResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const userEnv = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && !REPO_OVERRIDES.includes(e[0])),
  );
  const result = await runProcess(['git', ...args], {
    cwd,
    env: { PATH: HELPER_ENV.PATH ?? '', ...userEnv },
    onData: (stream, chunk) => (stream === 'stdout' ? out : err).push(chunk),
    timeoutMs: 60_000,
  });
  return {
    started: result.spawnError === undefined,
    code: result.code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err)
      .toString('utf8')
      .trim()
      .replace(/^fatal: /, ''),
  };
}
