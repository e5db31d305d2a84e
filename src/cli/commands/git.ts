// git:remote adds a `slipway` remote (<api>/git/<app>.git) to the current
// repository, with a credential helper for that URL only: `slipway
// git:credentials`, which hands git the token of `slipway login` (or
// SLIPWAY_TOKEN) when it asks. No token is ever written into .git/config.

import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { loadCredentials } from '../credentials.ts';
import { credentialAnswer } from '../git-credentials.ts';
import { runGit } from '../run-git.ts';
import { SLIPWAY_BIN, shellQuote } from '../self-command.ts';

export function gitCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('git:remote')
    .description('add a git remote to push the app to (git push slipway main deploys it)')
    .option('-a, --app <app>', 'app name')
    .option('-r, --remote <name>', 'name of the remote', 'slipway')
    .action(async (opts: { app?: string; remote: string }) => {
      const app = ctx.app(opts.app);
      await ctx.client().request('GET', `/api/apps/${encodeURIComponent(app)}`); // the app must exist
      const url = `${loadCredentials(io.env).url}/git/${app}.git`;
      const inRepo = (...args: string[]) => git(io.cwd, io.env, args);
      await inRepo('rev-parse', '--git-dir');
      const existing = await inRepo('remote').then((out) => out.split('\n'));
      await inRepo('remote', existing.includes(opts.remote) ? 'set-url' : 'add', opts.remote, url);
      const key = `credential.${url}.helper`;
      await inRepo('config', '--unset-all', key).catch(() => {});
      // An empty helper first: no other helper (e.g. a global `store`) sees or saves the token.
      await inRepo('config', '--add', key, '');
      await inRepo('config', '--add', key, `!'${SLIPWAY_BIN.replaceAll("'", "'\\''")}' git:credentials`);
      io.out(`Git remote ${opts.remote} added: ${url}`);
      const branch = await inRepo('symbolic-ref', '--quiet', '--short', 'HEAD').catch(() => null); // null: detached
      io.out(`Deploy with: git push ${shellQuote(opts.remote)} ${shellQuote(pushRefspec(branch))}`);
    });

  program
    .command('git:credentials')
    .description('git credential helper: prints the stored API token (used by git:remote)')
    .argument('[action]', 'get, store or erase (git passes it)', 'get')
    .action((action: string) => {
      if (action !== 'get') return; // nothing to store or erase: the token lives in slipway's login
      io.out(credentialAnswer(io.env));
    });
}

/**
 * What to push from the checked-out branch so that it deploys: main, and
 * master as well (the server deploys it while it has no main); any other
 * branch, or a detached HEAD, onto main.
 */
export function pushRefspec(branch: string | null): string {
  if (branch === 'main' || branch === 'master') return branch;
  return branch === null ? 'HEAD:refs/heads/main' : `${branch}:main`;
}

async function git(cwd: string, env: NodeJS.ProcessEnv, args: readonly string[]): Promise<string> {
  const result = await runGit(cwd, env, args);
  if (!result.started) throw new CliError('cli.usage', 'git is not installed (or not on the PATH)');
  if (result.code !== 0) throw new CliError('cli.usage', result.stderr.replace(/^fatal: /, '') || 'git failed');
  return result.stdout.replace(/\n$/, '');
}
