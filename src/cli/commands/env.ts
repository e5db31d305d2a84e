// env, env:set K=V..., env:unset K...: a change creates a release and
// restarts the app without downtime (no hook).

import type { Command } from 'commander';
import type { DeploymentJson } from '../../core/api-json.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { EXIT } from '../exit-codes.ts';
import { describeOutcome, followDeployment } from '../follow-deployment.ts';

type EnvReply = { env: Record<string, string>; deployment: DeploymentJson | null };

export function envCommands(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  const { io } = ctx;
  const apply = async (app: string, changes: Record<string, string | null>, summary: string) => {
    const client = ctx.client();
    const reply = await client.request<EnvReply>('PATCH', `/api/apps/${app}/env`, { json: changes });
    if (!reply.deployment) return io.out(`${summary} (the app has no release yet: nothing to restart)`);
    io.out(`${summary}; restarting ${app} (deployment ${reply.deployment.id})...`);
    const final = await followDeployment(client, io, app, reply.deployment.id, true);
    if (final.status === 'success') io.out(`Done: ${final.release} is live`);
    else {
      io.err(describeOutcome(final));
      setExit(EXIT.deployFailed);
    }
  };

  program
    .command('env')
    .description('show config vars')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const env = await ctx.client().request<Record<string, string>>('GET', `/api/apps/${ctx.app(opts.app)}/env`);
      if (opts.json) return io.out(JSON.stringify(env, null, 2));
      for (const [key, value] of Object.entries(env)) io.out(`${key}=${value}`);
    });

  program
    .command('env:set')
    .description('set config vars')
    .argument('<pairs...>', 'KEY=VALUE pairs')
    .option('-a, --app <app>', 'app name')
    .action(async (pairs: string[], opts: { app?: string }) => {
      const changes: Record<string, string> = {};
      for (const pair of pairs) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new CliError('cli.usage', `expected KEY=VALUE, got ${JSON.stringify(pair)}`);
        changes[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      await apply(ctx.app(opts.app), changes, `Set ${Object.keys(changes).join(', ')}`);
    });

  program
    .command('env:unset')
    .description('unset config vars')
    .argument('<keys...>', 'config var names')
    .option('-a, --app <app>', 'app name')
    .action(async (keys: string[], opts: { app?: string }) => {
      await apply(ctx.app(opts.app), Object.fromEntries(keys.map((k) => [k, null])), `Unset ${keys.join(', ')}`);
    });
}
