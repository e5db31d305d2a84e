// releases, rollback vN [--no-hook] [--keep-config] [--force], redeploy: each rollback and redeploy is
// a deployment whose log is streamed; the exit code is 0 only on success.

import type { Command } from 'commander';
import type { DeploymentJson, ReleaseJson } from '../../core/api-json.ts';
import { shortCommit } from '../../core/commit-sha.ts';
import type { CommandContext } from '../context.ts';
import { followToOutcome } from '../follow-deployment.ts';
import { ago, table } from '../output.ts';

interface RollbackOptions {
  app?: string;
  hook: boolean;
  keepConfig?: boolean;
  force?: boolean;
  json?: boolean;
}

export function releaseCommands(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  const { io } = ctx;
  program
    .command('releases')
    .description('list releases, newest first')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const list = await ctx.client().request<ReleaseJson[]>('GET', `/api/apps/${ctx.app(opts.app)}/releases`);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out('No releases yet.');
      io.out(
        table(
          list.map((r) => [
            `${r.version}${r.current ? ' *' : r.went_live ? '' : ' (never live)'}`,
            r.description,
            r.commit_sha ? shortCommit(r.commit_sha) : null,
            r.author,
            ago(r.created_at),
          ]),
          ['VERSION', 'DESCRIPTION', 'COMMIT', 'BY', 'CREATED'],
        ),
      );
    });

  program
    .command('rollback')
    .description(
      "deploy an earlier release's code and config (runs the postdeploy hook; database migrations are not reversed)",
    )
    .argument('<version>', 'release to go back to, e.g. v3')
    .option('-a, --app <app>', 'app name')
    .option('--no-hook', 'skip the postdeploy hook')
    .option('--keep-config', "keep the app's current config instead of the release's")
    .option('--force', 'allow a release that never went live')
    .option('--json', 'print the final deployment as JSON instead of its log')
    .action(async (version: string, opts: RollbackOptions) => {
      const app = ctx.app(opts.app);
      const client = ctx.client();
      const deployment = await client.request<DeploymentJson>('POST', `/api/apps/${app}/rollback`, {
        json: { version, hook: opts.hook, keep_config: opts.keepConfig === true, force: opts.force === true },
      });
      await followToOutcome(client, io, deployment, opts.json, setExit);
    });

  program
    .command('redeploy')
    .description('start, hook and switch the latest code again without rebuilding (e.g. after fixing config)')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'print the final deployment as JSON instead of its log')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const client = ctx.client();
      const deployment = await client.request<DeploymentJson>('POST', `/api/apps/${app}/redeploy`);
      await followToOutcome(client, io, deployment, opts.json, setExit);
    });
}
