// domains, domains:add HOST, domains:remove HOST

import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';

export function domainCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('domains')
    .description('list the custom domains of an app')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const list = await ctx.client().request<{ hostname: string }[]>('GET', `/api/apps/${app}/domains`);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out(`${app} has no custom domains.`);
      for (const d of list) io.out(d.hostname);
    });

  program
    .command('domains:add')
    .description('serve the app on a custom hostname too (point its DNS at the router)')
    .argument('<hostname>', 'e.g. www.example.com')
    .option('-a, --app <app>', 'app name')
    .action(async (hostname: string, opts: { app?: string }) => {
      const app = ctx.app(opts.app);
      const added = await ctx.client().request<{ hostname: string }>('POST', `/api/apps/${app}/domains`, {
        json: { hostname },
      });
      io.out(`Added ${added.hostname} to ${app}`);
    });

  program
    .command('domains:remove')
    .description('stop serving the app on a custom hostname')
    .argument('<hostname>', 'hostname to remove')
    .option('-a, --app <app>', 'app name')
    .action(async (hostname: string, opts: { app?: string }) => {
      const app = ctx.app(opts.app);
      await ctx.client().request('DELETE', `/api/apps/${app}/domains/${encodeURIComponent(hostname)}`);
      io.out(`Removed ${hostname} from ${app}`);
    });
}
