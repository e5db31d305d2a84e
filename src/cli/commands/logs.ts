// logs [-f] [--type TYPE] [--lines N] [--json]: an app's logs from every
// container and the router, oldest first; -f keeps streaming new lines.

import type { Command } from 'commander';
import type { LogLineJson } from '../../core/api-json.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';

interface LogsOptions {
  app?: string;
  follow?: boolean;
  type?: string;
  lines?: string;
  json?: boolean;
}

export function logsCommand(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('logs')
    .description("show the app's logs (every container and the router); -f follows them live")
    .option('-a, --app <app>', 'app name')
    .option('-f, --follow', 'keep printing new lines as they are written (Ctrl-C to stop)')
    .option('-t, --type <type>', 'only a process type (web), one container (web-1), router or slipway')
    .option('-n, --lines <n>', 'how many past lines to show first (default 100, at most 10000)')
    .option('--json', 'print one JSON object per line: {time, source, line}')
    .action(async (opts: LogsOptions) => {
      const app = ctx.app(opts.app);
      const query = new URLSearchParams();
      if (opts.lines !== undefined) {
        if (!/^\d+$/.test(opts.lines)) throw new CliError('cli.usage', '--lines takes a whole number');
        query.set('lines', opts.lines);
      }
      if (opts.type) query.set('type', opts.type);
      if (opts.follow) query.set('follow', '1');
      const path = `/api/apps/${encodeURIComponent(app)}/logs${query.size > 0 ? `?${query}` : ''}`;
      const print = (entry: LogLineJson) =>
        io.out(opts.json ? JSON.stringify(entry) : `${entry.time} ${entry.source}: ${entry.line}`);
      const client = ctx.client();
      if (opts.follow) {
        await client.events(path, (event, data) => {
          if (event === 'message') print(JSON.parse(data) as LogLineJson);
        });
        return;
      }
      for (const entry of await client.request<LogLineJson[]>('GET', path, { accept: 'application/json' }))
        print(entry);
    });
}
