// addons, addons:create PROVIDER [--as NAME], addons:info [NAME],
// addons:destroy NAME --confirm APP (docs/addons.md). Creating or destroying
// one changes a config var, which restarts a running app (no hook): the
// command follows that restart like env:set does.

import type { Command } from 'commander';
import type { DeploymentJson } from '../../core/api-json.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { followRestart } from '../follow-deployment.ts';
import { table } from '../output.ts';

interface AddonJson {
  name: string;
  provider: string;
  config_var: string;
  resource: string;
  created_at: string;
}
interface AddonChangeJson {
  addon: AddonJson;
  deployment: DeploymentJson | null;
  ms: number;
}

export function addonCommands(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  const { io } = ctx;
  /** Follows the config release, if the app runs; says when the change is live. */
  const rollOut = (app: string, change: AddonChangeJson, summary: string) =>
    followRestart(ctx.client(), io, setExit, {
      app,
      deployment: change.deployment,
      summary,
      noRelease: `${app} has no release yet: its first deployment gets it`,
      notLive: `${app} still runs with the config it had; the next deployment applies the change.`,
    });

  program
    .command('addons')
    .description("list an app's add-ons")
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const list = await ctx.client().request<AddonJson[]>('GET', `/api/apps/${app}/addons`);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out(`${app} has no add-ons: add one with \`slipway addons:create postgresql\`.`);
      io.out(
        table(
          list.map((a) => [a.name, a.provider, a.config_var, a.created_at]),
          ['NAME', 'PROVIDER', 'CONFIG VAR', 'CREATED'],
        ),
      );
    });

  program
    .command('addons:create')
    .description('make an add-on for the app and set its URL as a config var (DATABASE_URL)')
    .argument('<provider>', 'postgresql')
    .option('--as <name>', 'attach it as NAME: its URL goes in NAME_URL (default DATABASE)')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (provider: string, opts: { app?: string; as?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const change = await ctx.client().request<AddonChangeJson>('POST', `/api/apps/${app}/addons`, {
        json: { provider, as: opts.as ?? null },
      });
      if (opts.json) return io.out(JSON.stringify(change, null, 2));
      const { addon } = change;
      await rollOut(
        app,
        change,
        `Created ${addon.provider} add-on ${addon.name} in ${change.ms} ms: set ${addon.config_var}`,
      );
    });

  program
    .command('addons:info')
    .description('show an add-on: its config var, size, connections')
    .argument('[name]', 'add-on name (default: the app has only one)')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (name: string | undefined, opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const client = ctx.client();
      const chosen = name ?? (await onlyAddon(client, app));
      const info = await client.request<Record<string, unknown>>(
        'GET',
        `/api/apps/${app}/addons/${encodeURIComponent(chosen)}`,
      );
      if (opts.json) return io.out(JSON.stringify(info, null, 2));
      for (const [key, value] of Object.entries(info)) io.out(`${key.padEnd(17)}${String(value)}`);
    });

  program
    .command('addons:destroy')
    .description('destroy an add-on and all its data, and unset its config var')
    .argument('<name>', 'add-on name (e.g. DATABASE)')
    .option('-a, --app <app>', 'app name')
    .option('--confirm <app>', 'repeat the app name to confirm')
    .action(async (name: string, opts: { app?: string; confirm?: string }) => {
      const app = ctx.confirmedApp(opts, (app) => `this destroys ${name} of ${app} and all its data`);
      const change = await ctx
        .client()
        .request<AddonChangeJson>('DELETE', `/api/apps/${app}/addons/${encodeURIComponent(name)}`);
      await rollOut(app, change, `Destroyed ${change.addon.name} and its data: unset ${change.addon.config_var}`);
    });
}

async function onlyAddon(client: ReturnType<CommandContext['client']>, app: string): Promise<string> {
  const list = await client.request<AddonJson[]>('GET', `/api/apps/${app}/addons`);
  const [first] = list;
  if (first === undefined) throw new CliError('addon.not_found', `${app} has no add-ons`);
  if (list.length > 1)
    throw new CliError(
      'cli.usage',
      `${app} has ${list.length} add-ons: name one (${list.map((a) => a.name).join(', ')})`,
    );
  return first.name;
}
