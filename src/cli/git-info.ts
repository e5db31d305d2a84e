// Reads just enough of a git checkout, without running git: the app named by
// a remote called `slipway` (…/git/<app>.git), and the checked-out commit.

import fs from 'node:fs';
import path from 'node:path';

function findGitDir(start: string): string | null {
  let dir = path.resolve(start);
  for (;;) {
    const candidate = path.join(dir, '.git');
    if (fs.existsSync(path.join(candidate, 'HEAD'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function appFromGitRemote(cwd: string): string | null {
  const gitDir = findGitDir(cwd);
  if (!gitDir) return null;
  const config = fs.readFileSync(path.join(gitDir, 'config'), 'utf8');
  const section = /\[remote "slipway"\]([^[]*)/.exec(config)?.[1];
  const url = section && /^\s*url\s*=\s*(.+)$/m.exec(section)?.[1]?.trim();
  return url ? (/\/([a-z0-9-]+)(?:\.git)?\/?$/.exec(url)?.[1] ?? null) : null;
}

/** The commit SHA checked out in `dir` when it is the top of a git checkout. */
export function headCommit(dir: string): { sha: string; ref: string | null } | null {
  const gitDir = path.join(dir, '.git');
  if (!fs.existsSync(path.join(gitDir, 'HEAD'))) return null;
  const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
  if (/^[0-9a-f]{40,64}$/.test(head)) return { sha: head, ref: null };
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (!ref) return null;
  const loose = path.join(gitDir, ref);
  if (fs.existsSync(loose))
    return { sha: fs.readFileSync(loose, 'utf8').trim(), ref: ref.replace(/^refs\/heads\//, '') };
  const packed = path.join(gitDir, 'packed-refs');
  if (!fs.existsSync(packed)) return null;
  for (const line of fs.readFileSync(packed, 'utf8').split('\n')) {
    const [sha, name] = line.split(' ');
    if (name === ref && sha) return { sha, ref: ref.replace(/^refs\/heads\//, '') };
  }
  return null;
}
