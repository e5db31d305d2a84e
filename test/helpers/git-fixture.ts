// Real git for tests: a directory turned into a repository with one commit
// (so a deployment of it carries a commit SHA), more branches, a bare copy for
// a git server (local-http.ts), and a git user's environment and runner for
// pushing to a test server.

import fs from 'node:fs';
import path from 'node:path';
import { runChecked, runProcess } from '../../src/exec/index.ts';
import { baseEnv, TOKEN } from './slipway.ts';

export interface GitAuthor {
  readonly name: string;
  readonly email: string;
}

const TEST_AUTHOR: GitAuthor = { name: 'Slipway Test', email: 'test@slipway.invalid' };

function authorEnv({ name, email }: GitAuthor): Record<string, string> {
  return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
}

const GIT_ENV = baseEnv({ ...authorEnv(TEST_AUTHOR), GIT_CONFIG_NOSYSTEM: '1' });

/**
 * A git user's environment against a test server: its own HOME, no system
 * config, no prompts, and the CLI's login (what the credential helper reads).
 */
export function gitUserEnv(slipway: { home: string; apiUrl: string }, author = TEST_AUTHOR): Record<string, string> {
  return baseEnv({
    HOME: slipway.home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    ...authorEnv(author),
    SLIPWAY_URL: slipway.apiUrl,
    SLIPWAY_TOKEN: TOKEN,
  });
}

/** Runs git in `cwd`; git push reports on stderr, so both streams are kept together. */
export async function runGit(
  cwd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ code: number | null; output: string }> {
  const lines: string[] = [];
  const result = await runProcess(['git', ...args], {
    cwd,
    env,
    onLine: (_stream, line) => lines.push(line),
    timeoutMs,
  });
  return { code: result.code, output: lines.join('\n') };
}

export async function commitAll(dir: string, message = 'fixture'): Promise<string> {
  await runChecked(['git', 'init', '-q', '-b', 'main'], { cwd: dir, env: GIT_ENV });
  await runChecked(['git', 'add', '-A'], { cwd: dir, env: GIT_ENV });
  await runChecked(['git', 'commit', '-q', '-m', message], { cwd: dir, env: GIT_ENV });
  return (await runChecked(['git', 'rev-parse', 'HEAD'], { cwd: dir, env: GIT_ENV })).trim();
}

/** Commits `files` (path → content) on a new branch `branch` of the repository in `dir`; back on the branch it was on. */
export async function commitBranch(dir: string, branch: string, files: Record<string, string>): Promise<string> {
  const git = (args: string[]) => runChecked(['git', ...args], { cwd: dir, env: GIT_ENV });
  const before = (await git(['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
  await git(['checkout', '-q', '-b', branch]);
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
  await git(['commit', '-q', '-a', '-m', `on ${branch}`]);
  const sha = (await git(['rev-parse', 'HEAD'])).trim();
  await git(['checkout', '-q', before]);
  return sha;
}

/** A bare clone of the repository in `dir` at `<root>/<name>.git` (name: `owner/repo`), as startGitServer serves it. */
export async function bareCopy(dir: string, root: string, name: string): Promise<void> {
  fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
  await runChecked(['git', 'clone', '-q', '--bare', dir, path.join(root, `${name}.git`)], { env: GIT_ENV });
}
