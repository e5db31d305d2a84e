// Asks git what a directory inside a work tree holds, as `git add -A` would
// see it: the tracked files plus the untracked ones that no ignore rule
// (.gitignore, .git/info/exclude, the global excludes file) leaves out; and
// which commit that is, marked dirty when the work tree differs from it.

import { CliError } from './cli-error.ts';
import { runGit } from './run-git.ts';

export interface WorkTreeCommit {
  readonly sha: string;
  /** The checked-out branch; null on a detached HEAD. */
  readonly ref: string | null;
  /** Uncommitted changes under the directory: modified, staged, deleted or untracked (not ignored) files. */
  readonly dirty: boolean;
}

export interface WorkTree {
  /** Paths relative to the directory, as git lists them (a nested repository ends with `/`). */
  readonly paths: readonly string[];
  /** Null before the first commit. */
  readonly commit: WorkTreeCommit | null;
}

/**
 * What git has in `dir`; `null` when `dir` is not in a work tree, `'no-git'`
 * when git cannot be run. Any other failure of git is the user's to see.
 */
export async function readWorkTree(dir: string, env: NodeJS.ProcessEnv): Promise<WorkTree | null | 'no-git'> {
  const listing = await runGit(dir, env, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  if (!listing.started) return 'no-git';
  if (listing.code !== 0) {
    if (/not a git repository|must be run in a work tree/i.test(listing.stderr)) return null;
    throw new CliError('cli.usage', `git cannot list ${dir}: ${listing.stderr || `exit ${listing.code}`}`);
  }
  const status = await runGit(dir, env, [
    '--no-optional-locks',
    'status',
    '--porcelain=v2',
    '--branch',
    '--untracked-files=normal',
    '-z',
    '--',
    '.',
  ]);
  if (status.code !== 0) throw new CliError('cli.usage', `git status failed in ${dir}: ${status.stderr}`);
  // Only the set matters: a tracked file with a merge conflict is listed once per stage.
  const paths = [...new Set(listing.stdout.split('\0').filter((p) => p !== ''))];
  return { paths, commit: commitOf(status.stdout.split('\0')) };
}

/** From `git status --porcelain=v2 --branch` records: `# branch.oid <sha>|(initial)`, `# branch.head <name>|(detached)`, then one record per change. */
function commitOf(records: readonly string[]): WorkTreeCommit | null {
  const header = (key: string) => records.find((r) => r.startsWith(`# ${key} `))?.slice(key.length + 3);
  const sha = header('branch.oid');
  if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) return null;
  const head = header('branch.head');
  return {
    sha,
    ref: head && head !== '(detached)' ? head : null,
    dirty: records.some((r) => r !== '' && !r.startsWith('#')),
  };
}
