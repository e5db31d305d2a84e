// Reads just enough of a git checkout, without running git (every command
// asks it): the app named by a remote called `slipway` (…/git/<app>.git).

import fs from 'node:fs';
import path from 'node:path';

/** The `.git` directory of the checkout around `start`, if any. */
export function findGitDir(start: string): string | null {
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
