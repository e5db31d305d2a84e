// pg:psql [NAME] [-c SQL]: psql on an app's database, in a one-off container
// of the app (so it reaches the database exactly as the app does), attached to
// this terminal when stdin is one (docs/addons.md).

import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { shellQuote } from '../self-command.ts';
import { runInContainer } from './run.ts';

export function pgPsqlCommand(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  program
    .command('pg:psql')
    .description("open psql on one of the app's databases (in a one-off container of the app)")
    .argument('[name]', 'the add-on (default DATABASE)')
    .option('-a, --app <app>', 'app name')
    .option('-c, --command <sql>', 'run this SQL and exit (stops at the first error)')
    .option('--no-tty', 'do not attach this terminal even when stdin is one')
    .action(async (name: string | undefined, opts: { app?: string; command?: string; tty: boolean }) => {
      const app = ctx.app(opts.app);
      const addon = await ctx
        .client()
        .request<{ provider: string; config_var: string }>(
          'GET',
          `/api/apps/${app}/addons/${encodeURIComponent(name ?? 'DATABASE')}`,
        );
      if (addon.provider !== 'postgresql')
        throw new CliError('cli.usage', `${name} of ${app} is a ${addon.provider} add-on, not a PostgreSQL database`);
      const sql = opts.command === undefined ? '' : ` -v ON_ERROR_STOP=1 -c ${shellQuote(opts.command)}`;
      await runInContainer(
        ctx,
        app,
        { command: `psql "$${addon.config_var}"${sql}`, env: {} },
        { tty: opts.tty },
        setExit,
      );
    });
}
