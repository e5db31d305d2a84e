// Fetches one commit of a remote git repository over http(s) and exports its
// tree as a .tar.gz: a throwaway bare repository, `git fetch --depth 1 <url>
// <ref>` (a branch, a tag, HEAD or a commit SHA), `git archive`. Git runs
// through exec with the clean environment of git-repo.ts, never prompts, and
// may only speak http and https (GIT_ALLOW_PROTOCOL), redirects included, and
// reaches only checked addresses (check-destination.ts).

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isSlipwayError } from '../core/errors.ts';
import { runChecked } from '../exec/index.ts';
import { anyDestination, hostOf, resolveAllowed } from './check-destination.ts';
import { connectFailure, type FetchLimits, fetchFailed, shownUrl } from './fetch-url.ts';
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
  if (!isValidRef(ref)) throw fetchFailed(shownUrl(url), `invalid ref ${JSON.stringify(ref)}`);
  await fs.promises.mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const id = randomBytes(8).toString('hex');
  const repo = path.join(spoolDir, `fetch-${id}.git`);
  const file = path.join(spoolDir, `git-${id}.tar.gz`);
  const env = await transportEnv(url, spoolDir, limits, token);
  try {
    await runChecked(['git', 'init', '-q', '--bare', repo], { env, timeoutMs: 30_000 });
    try {
      await runChecked(['git', `--git-dir=${repo}`, 'fetch', '-q', '--depth', '1', '--no-tags', '--', url.href, ref], {
        env,
        timeoutMs: limits.totalTimeoutMs,
      });
    } catch (err) {
      // git's own reason: its last line ("repository '…' not found", "couldn't find remote ref x").
      throw fetchFailed(shownUrl(url), `git fetch of ${ref} failed: ${lastLine((err as Error).message)}`);
    }
    const commit = await commitInfo(spoolDir, repo, 'FETCH_HEAD');
    await exportCommit(spoolDir, repo, commit.sha, file);
    const { size } = await fs.promises.stat(file);
    if (size > limits.maxBytes) throw fetchFailed(shownUrl(url), `the commit's tree is larger than the upload cap`);
    return { ...commit, file };
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    throw err;
  } finally {
    await fs.promises.rm(repo, { recursive: true, force: true });
  }
}

/**
 * The commit `ref` names on the remote now (`git ls-remote`, one request, no
 * objects), or null when no branch, tag or HEAD of that name is there (it may
 * still be a commit: fetch it to know).
 */
export async function resolveGitRef(
  url: URL,
  ref: string,
  spoolDir: string,
  limits: FetchLimits,
): Promise<string | null> {
  if (!isValidRef(ref)) throw fetchFailed(shownUrl(url), `invalid ref ${JSON.stringify(ref)}`);
  await fs.promises.mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const env = await transportEnv(url, spoolDir, limits, null);
  let out: string;
  try {
    out = await runChecked(['git', 'ls-remote', '--', url.href, ref], { env, timeoutMs: limits.totalTimeoutMs });
  } catch (err) {
    throw fetchFailed(shownUrl(url), `git ls-remote failed: ${lastLine((err as Error).message)}`);
  }
  const refs = out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t') as [string, string]);
  // An annotated tag's commit is its peeled entry (`refs/tags/v1^{}`).
  const match = refs.find(([, name]) => name.endsWith('^{}')) ?? refs[0];
  return match && /^[0-9a-f]{40}$/.test(match[0]) ? match[0] : null;
}

/** git's environment for talking to `url`: http(s) only, the token, and the checked destination. */
async function transportEnv(url: URL, spoolDir: string, limits: FetchLimits, token: string | null) {
  return gitEnv(spoolDir, {
    GIT_ALLOW_PROTOCOL: 'http:https',
    ...gitConfig([
      ...authConfig(token),
      ...(limits.destinations === anyDestination ? [] : await pinnedDestination(url, limits)),
    ]),
  });
}

type ConfigEntry = readonly [key: string, value: string];

/** An Authorization header for git's http transport. */
function authConfig(token: string | null): ConfigEntry[] {
  if (!token) return [];
  return [['http.extraHeader', `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`]];
}

/**
 * git resolves names itself and follows redirects anywhere: instead, the
 * host is resolved and checked here (check-destination.ts), curl is pinned
 * to the checked addresses, and redirects are not followed.
 */
async function pinnedDestination(url: URL, limits: FetchLimits): Promise<ConfigEntry[]> {
  const host = hostOf(url);
  const addresses = await resolveAllowed(host, limits.destinations).catch((err) => {
    throw isSlipwayError(err) ? err : fetchFailed(shownUrl(url), connectFailure(err, url, limits.connectTimeoutMs));
  });
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const pinned = addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
  return [
    ['http.followRedirects', 'false'],
    ['http.curloptResolve', `${url.hostname}:${port}:${pinned}`],
  ];
}

/** git configuration through the environment (never argv, where tokens would show in `ps`). */
function gitConfig(entries: readonly ConfigEntry[]): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return entries.length ? env : {};
}

function lastLine(message: string): string {
  const lines = message.split('\n').filter((l) => l.trim() !== '');
  return (lines.at(-1) ?? message)
    .replace(/^.*failed: /, '')
    .replace(/^(fatal|error): /, '')
    .replace(/^unable to access '[^']*': /, '') // the URL is already in the message
    .slice(0, 300);
}
