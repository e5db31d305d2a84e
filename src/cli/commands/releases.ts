// releases: the release history of an app.

import type { Command } from 'commander';
import type { ReleaseJson } from '../../core/api-json.ts';
import type { CommandContext } from '../context.ts';
import { ago, table } from '../output.ts';

export function releaseCommands(program: Command, ctx: CommandContext): void {
  program
    .command('releases')
    .description('list releases, newest first')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const list = await ctx.client().request<ReleaseJson[]>('GET', `/api/apps/${ctx.app(opts.app)}/releases`);
      if (opts.json) return ctx.io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return ctx.io.out('No releases yet.');
      ctx.io.out(
        table(
          list.map((r) => [
            `${r.version}${r.current ? ' *' : ''}`,
            r.description,
            r.commit_sha?.slice(0, 7),
            ago(r.created_at),
          ]),
          ['VERSION', 'DESCRIPTION', 'COMMIT', 'CREATED'],
        ),
      );
    });
}
