// Decides which files of a directory `slipway deploy DIR` ships. In a git work
// tree: what git tracks plus untracked files no ignore rule leaves out, as
// they are on disk now (a tracked file deleted since is simply not there).
// Elsewhere: every file, directory and symlink. Both leave out VCS metadata,
// installed dependencies and a local Slipway home at the top, then apply the
// directory's `.slugignore` (Heroku's format: gitignore patterns) and say
// what it left out.

import fs from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { findGitDir } from './git-info.ts';
import { readWorkTree, type WorkTreeCommit } from './git-worktree.ts';

const EXCLUDED_TOP = new Set(['.git', 'node_modules', '.slipway']);
const SLUGIGNORE = '.slugignore';
/** How many left-out names a note shows before "and N more". */
const SHOWN = 5;

export interface SourceSelection {
  /** Paths relative to the directory; a directory stands for itself only (its contents are listed too). */
  readonly entries: readonly string[];
  /** Entries that are not directories. */
  readonly files: number;
  /** `git`: chosen by git; `walk`: not a git work tree (or no git to ask). */
  readonly how: 'git' | 'walk';
  readonly commit: WorkTreeCommit | null;
  /** Lines for the user: what was left out, and why. */
  readonly notes: readonly string[];
}

export async function selectSourceFiles(dir: string, env: NodeJS.ProcessEnv): Promise<SourceSelection> {
  const slugignore = readSlugignore(dir);
  const leftOut: string[] = [];
  const special: string[] = [];
  const keep = (rel: string) => {
    if (!slugignore?.ignores(rel)) return true;
    leftOut.push(rel);
    return false;
  };
  const tree = await readWorkTree(dir, env);
  const git = tree === 'no-git' ? null : tree;
  const notes: string[] = [];
  let entries: string[];
  if (git) {
    const listed = await gitFiles(dir, '', git.paths, env, special);
    entries = listed.filter((rel) => !EXCLUDED_TOP.has(rel.split('/')[0] ?? '') && keep(rel));
  } else {
    if (tree === 'no-git' && findGitDir(dir))
      notes.push('git is not installed (or not on the PATH): .gitignore is not applied, every file is packed');
    entries = walk(dir, '', keep, special);
  }
  if (leftOut.length > 0) notes.push(`${SLUGIGNORE} left out ${leftOut.length}: ${shortList(leftOut)}`);
  if (special.length > 0)
    notes.push(`left out ${special.length} that are neither files, directories nor links: ${shortList(special)}`);
  return {
    entries,
    files: entries.filter((rel) => !rel.endsWith('/')).length,
    how: git ? 'git' : 'walk',
    commit: git?.commit ?? null,
    notes,
  };
}

function readSlugignore(dir: string): Ignore | null {
  const file = path.join(dir, SLUGIGNORE);
  return fs.existsSync(file) ? ignore().add(fs.readFileSync(file, 'utf8')) : null;
}

/**
 * The files of a git listing that exist now. A directory in it is a nested
 * repository (a submodule, or an untracked checkout): what its own git has,
 * by its own ignore rules; one that is not checked out holds nothing.
 */
async function gitFiles(
  root: string,
  prefix: string,
  listed: readonly string[],
  env: NodeJS.ProcessEnv,
  special: string[],
): Promise<string[]> {
  const files: string[] = [];
  for (const entry of listed) {
    const rel = prefix + entry.replace(/\/$/, '');
    const stat = lstatOrNull(path.join(root, rel));
    if (stat === null) continue; // deleted in the work tree since
    if (stat.isFile() || stat.isSymbolicLink()) files.push(rel);
    else if (!stat.isDirectory()) special.push(rel);
    else if (fs.existsSync(path.join(root, rel, '.git'))) {
      const nested = await readWorkTree(path.join(root, rel), env);
      if (nested !== null && nested !== 'no-git')
        files.push(...(await gitFiles(root, `${rel}/`, nested.paths, env, special)));
    }
  }
  return files;
}

function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** Every file, directory (as `dir/`) and symlink under `dir`, in name order, but `.git` anywhere. */
function walk(root: string, prefix: string, keep: (rel: string) => boolean, special: string[]): string[] {
  const found: string[] = [];
  const dirents = fs.readdirSync(path.join(root, prefix), { withFileTypes: true });
  for (const d of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (d.name === '.git' || (prefix === '' && EXCLUDED_TOP.has(d.name))) continue;
    const rel = prefix + d.name;
    if (d.isDirectory()) {
      if (keep(`${rel}/`)) found.push(`${rel}/`, ...walk(root, `${rel}/`, keep, special));
    } else if (!(d.isFile() || d.isSymbolicLink())) {
      special.push(rel);
    } else if (keep(rel)) {
      found.push(rel);
    }
  }
  return found;
}

function shortList(names: readonly string[]): string {
  const shown = names.slice(0, SHOWN).join(', ');
  return names.length > SHOWN ? `${shown} and ${names.length - SHOWN} more` : shown;
}
