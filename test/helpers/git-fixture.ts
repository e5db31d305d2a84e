// Turns a directory into a git repository with one commit (real git), so a
// deployment of it carries a commit SHA.

import { runChecked } from '../../src/exec/index.ts';
import { baseEnv } from './slipway.ts';

const GIT_ENV = baseEnv({
  GIT_AUTHOR_NAME: 'Slipway Test',
  GIT_AUTHOR_EMAIL: 'test@slipway.invalid',
  GIT_COMMITTER_NAME: 'Slipway Test',
  GIT_COMMITTER_EMAIL: 'test@slipway.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
});

export async function commitAll(dir: string, message = 'fixture'): Promise<string> {
  await runChecked(['git', 'init', '-q', '-b', 'main'], { cwd: dir, env: GIT_ENV });
  await runChecked(['git', 'add', '-A'], { cwd: dir, env: GIT_ENV });
  await runChecked(['git', 'commit', '-q', '-m', message], { cwd: dir, env: GIT_ENV });
  return (await runChecked(['git', 'rev-parse', 'HEAD'], { cwd: dir, env: GIT_ENV })).trim();
}
