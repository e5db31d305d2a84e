// env, env:set K=V..., env:unset K...: a change creates a release and
// restarts the app without downtime (no hook).

import type { Command } from 'commander';
import type { ConfigStateJson, DeploymentJson } from '../../core/api-json.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { followRestart } from '../follow-deployment.ts';

type EnvReply = { env: Record<string, string>; deployment: DeploymentJson | null };

export function envCommands(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  const { io } = ctx;
  const apply = async (app: string, changes: Record<string, string | null>, summary: string) => {
    const client = ctx.client();
    const reply = await client.request<EnvReply>('PATCH', `/api/apps/${app}/env`, { json: changes });
    await followRestart(client, io, setExit, {
      app,
      deployment: reply.deployment,
      summary,
      noRelease: 'the app has no release yet: nothing to restart',
      notLive: `The change is not live: ${app} runs with the config it had, and \`slipway env\` shows the change as failed. The next deployment applies it unless you change it back.`,
    });
  };

  program
    .command('env')
    .description('show config vars')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON (with --state: the live config, and what is not live yet)')
    .option('--state', 'with --json: the whole state, not only the live config')
    .action(async (opts: { app?: string; json?: boolean; state?: boolean }) => {
      const app = ctx.app(opts.app);
      const state = await ctx.client().request<ConfigStateJson>('GET', `/api/apps/${app}/env/state`);
      if (opts.json) return io.out(JSON.stringify(opts.state ? state : state.env, null, 2));
      for (const [key, value] of Object.entries(state.env)) io.out(`${key}=${value}`);
      // The rest on stderr: stdout stays KEY=VALUE lines of what runs.
      for (const line of describeState(app, state)) io.err(line);
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

/** What `env` says under the live config: whose config it is, and any change that is not live. */
function describeState(app: string, state: ConfigStateJson): string[] {
  if (state.status === 'not-deployed') {
    const running = state.deployment ? ` (deployment ${state.deployment.id} is ${state.deployment.status})` : '';
    return [`${app} has no live release yet${running}: its first deployment uses this config.`];
  }
  if (state.status === 'live') return [];
  const d = state.deployment;
  const why =
    state.status === 'pending'
      ? `being rolled out by deployment ${d?.id} (${d?.status})`
      : `not applied: ${d ? `deployment ${d.id} ended ${d.status}` : 'no deployment applied it'}`;
  return [
    `The above is ${state.release}'s config, which runs. A change is ${why}:`,
    ...Object.entries(state.unapplied).map(([key, value]) =>
      value === null ? `  - ${key} (unset)` : `  ${key in state.env ? '~' : '+'} ${key}=${value}`,
    ),
    ...(state.status === 'failed'
      ? ['The next deployment (deploy, push, redeploy, env:set, rollback --keep-config) applies it too.']
      : []),
  ];
}
