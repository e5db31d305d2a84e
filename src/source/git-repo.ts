// An app's bare repository (`repos/<app>.git`): created on first use, checked
// against the app it belongs to (an app destroyed and created again under the
// same name starts with an empty repository), and the few plumbing commands
// the push endpoint needs. Every git command runs with a clean environment:
// no GIT_* variable of the server, no system or global config, no hooks.

import fs from 'node:fs';
import path from 'node:path';
import { HELPER_ENV, runChecked, runProcess } from '../exec/index.ts';

/** Marker file inside the repository: the creation time of the app it belongs to. */
const OWNER_FILE = 'slipway-app';
const ZERO_SHA = /^0+$/;

export function repoPath(reposDir: string, app: string): string {
  return path.join(reposDir, `${app}.git`);
}

export function gitEnv(reposDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...HELPER_ENV,
    HOME: reposDir,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  };
}

/** `git --git-dir=<repo> …` with the clean environment; returns stdout. */
export function git(reposDir: string, repo: string, args: readonly string[]): Promise<string> {
  return runChecked(['git', `--git-dir=${repo}`, ...args], { env: gitEnv(reposDir), timeoutMs: 60_000 });
}

/** The app's repository, created (bare, no hooks) when missing or left over from an earlier app of that name. */
export async function ensureRepo(reposDir: string, app: string, appCreatedAt: string): Promise<string> {
  const repo = repoPath(reposDir, app);
  const owner = path.join(repo, OWNER_FILE);
  const current = fs.existsSync(owner) ? fs.readFileSync(owner, 'utf8').trim() : null;
  if (current === appCreatedAt) return repo;
  await fs.promises.rm(repo, { recursive: true, force: true });
  await fs.promises.mkdir(reposDir, { recursive: true, mode: 0o700 });
  await runChecked(['git', 'init', '-q', '--bare', '--initial-branch=main', repo], {
    env: gitEnv(reposDir),
    timeoutMs: 60_000,
  });
  await git(reposDir, repo, ['config', 'core.hooksPath', '/dev/null']);
  await git(reposDir, repo, ['config', 'receive.denyDeleteCurrent', 'false']);
  await fs.promises.writeFile(owner, `${appCreatedAt}\n`, { mode: 0o600 });
  return repo;
}

export async function removeRepo(reposDir: string, app: string): Promise<void> {
  await fs.promises.rm(repoPath(reposDir, app), { recursive: true, force: true });
}

/**
 * Branch name → its commit (SHA, author, subject), in one git process: a push
 * reads them before and after receive-pack, and deploys with the commit's
 * author and subject without asking git again.
 */
export async function readBranches(reposDir: string, repo: string): Promise<Map<string, CommitInfo>> {
  const format = '%(objectname)%00%(refname)%00%(authorname) %(authoremail)%00%(contents:subject)';
  const out = await git(reposDir, repo, ['for-each-ref', `--format=${format}`, 'refs/heads/']);
  const branches = new Map<string, CommitInfo>();
  for (const line of out.split('\n')) {
    const [sha, ref, author = '', subject = ''] = line.split('\0');
    if (sha && ref) branches.set(ref, { sha, author, subject });
  }
  return branches;
}

export interface RefUpdate {
  readonly ref: string;
  /** null when the branch was created. */
  readonly oldSha: string | null;
  /** null when the branch was deleted. */
  readonly newSha: string | null;
}

export function diffBranches(
  before: ReadonlyMap<string, CommitInfo>,
  after: ReadonlyMap<string, CommitInfo>,
): RefUpdate[] {
  const updates: RefUpdate[] = [];
  for (const [ref, { sha }] of after) {
    const old = before.get(ref)?.sha ?? null;
    if (old !== sha) updates.push({ ref, oldSha: old, newSha: sha });
  }
  for (const [ref, { sha }] of before) if (!after.has(ref)) updates.push({ ref, oldSha: sha, newSha: null });
  return updates;
}

/**
 * Puts a branch back where it was, only if nobody moved it since (compare and
 * swap). Returns false when it had moved on.
 */
export async function restoreBranch(reposDir: string, repo: string, update: RefUpdate): Promise<boolean> {
  const expected = update.newSha ?? '0'.repeat(40);
  const args =
    update.oldSha === null || ZERO_SHA.test(update.oldSha)
      ? ['update-ref', '-d', update.ref, expected]
      : ['update-ref', update.ref, update.oldSha, expected];
  const result = await runProcess(['git', `--git-dir=${repo}`, ...args], { env: gitEnv(reposDir), timeoutMs: 60_000 });
  return result.code === 0;
}

export interface CommitInfo {
  readonly sha: string;
  readonly author: string;
  readonly subject: string;
}

/**
 * Deletes every object no branch reaches: what a rejected push stored is
 * gone, so rejected pushes cannot fill the disk. The caller holds the
 * repository's lock (no push is being received meanwhile).
 */
export async function pruneUnreachable(reposDir: string, repo: string): Promise<void> {
  await runChecked(['git', `--git-dir=${repo}`, 'gc', '--quiet', '--prune=now'], {
    env: gitEnv(reposDir, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'gc.reflogExpireUnreachable',
      GIT_CONFIG_VALUE_0: 'now',
    }),
    timeoutMs: 10 * 60_000,
  });
}

export async function commitInfo(reposDir: string, repo: string, sha: string): Promise<CommitInfo> {
  const out = await git(reposDir, repo, ['show', '-s', '--format=%H%n%an <%ae>%n%s', sha]);
  const [full = sha, author = '', subject = ''] = out.split('\n');
  return { sha: full, author, subject };
}

/** Writes the commit's tree as a .tar.gz (what `slipway deploy` would upload). */
export async function exportCommit(reposDir: string, repo: string, sha: string, file: string): Promise<void> {
  await git(reposDir, repo, ['archive', '--format=tar.gz', `--output=${file}`, sha]);
}

/** Points HEAD (what a clone checks out) at the branch that was deployed, unless it points there already. */
export async function setHead(reposDir: string, repo: string, ref: string): Promise<void> {
  // Read as git writes it (`ref: refs/heads/main`): a git process less on the way to every push's answer.
  const head = await fs.promises.readFile(path.join(repo, 'HEAD'), 'utf8').catch(() => '');
  if (head.trim() === `ref: ${ref}`) return;
  await git(reposDir, repo, ['symbolic-ref', 'HEAD', ref]);
}
