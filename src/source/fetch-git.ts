// Fetches one commit of a remote git repository over http(s) and exports its
// tree as a .tar.gz: a throwaway bare repository, `git fetch --depth 1 <url>
// <ref>` (a branch, a tag, HEAD or a commit SHA), `git archive`. Git runs
// through exec with the clean environment of git-repo.ts, never prompts, and
// may only speak http and https (GIT_ALLOW_PROTOCOL), redirects included.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runChecked } from '../exec/index.ts';
import { displayUrl, type FetchLimits, fetchFailed } from './fetch-url.ts';
import { type CommitInfo, commitInfo, exportCommit, gitEnv } from './git-repo.ts';

const REF = /^(?!-)[A-Za-z0-9._/-]{1,200}$/;

export function isValidRef(ref: string): boolean {
  return REF.test(ref) && !ref.includes('..');
}

export interface FetchedCommit extends CommitInfo {
  /** The exported tree (the caller's to remove). */
  readonly file: string;
}

/** `token`, when given, is sent as HTTP basic auth (GitHub's `x-access-token`), through the environment only. */
export async function fetchGitCommit(
  url: URL,
  ref: string,
  spoolDir: string,
  limits: FetchLimits,
  token: string | null = null,
): Promise<FetchedCommit> {
  if (!isValidRef(ref)) throw fetchFailed(displayUrl(url), `invalid ref ${JSON.stringify(ref)}`);
  await fs.promises.mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const id = randomBytes(8).toString('hex');
  const repo = path.join(spoolDir, `fetch-${id}.git`);
  const file = path.join(spoolDir, `git-${id}.tar.gz`);
  const env = gitEnv(spoolDir, { GIT_ALLOW_PROTOCOL: 'http:https', ...authConfig(token) });
  try {
    await runChecked(['git', 'init', '-q', '--bare', repo], { env, timeoutMs: 30_000 });
    try {
      await runChecked(['git', `--git-dir=${repo}`, 'fetch', '-q', '--depth', '1', '--no-tags', '--', url.href, ref], {
        env,
        timeoutMs: limits.totalTimeoutMs,
      });
    } catch (err) {
      throw fetchFailed(displayUrl(url), `git fetch of ${ref} failed: ${lastLine((err as Error).message)}`);
    }
    const commit = await commitInfo(spoolDir, repo, 'FETCH_HEAD');
    await exportCommit(spoolDir, repo, commit.sha, file);
    const { size } = await fs.promises.stat(file);
    if (size > limits.maxBytes) throw fetchFailed(displayUrl(url), `the commit's tree is larger than the upload cap`);
    return { ...commit, file };
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    throw err;
  } finally {
    await fs.promises.rm(repo, { recursive: true, force: true });
  }
}

/** An Authorization header for git's http transport, as config from the environment (not argv). */
function authConfig(token: string | null): Record<string, string> {
  if (!token) return {};
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
}

function lastLine(message: string): string {
  const lines = message.split('\n').filter((l) => l.trim() !== '');
  return (lines.at(-1) ?? message).replace(/^.*failed: /, '').slice(0, 300);
}
