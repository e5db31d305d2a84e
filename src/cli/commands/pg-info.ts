// pg:info [NAME]: each PostgreSQL database of the app (or the one named):
// its version, its size, and the connections in use of its role's limit
// (docs/addons.md).

import type { Command } from 'commander';
import { formatBytes } from '../../core/format-bytes.ts';
import type { CommandContext } from '../context.ts';

interface DatabaseInfoJson {
  name: string;
  config_var: string;
  database: string;
  version: string;
  size_bytes: number;
  connections: number;
  connection_limit: number;
  created_at: string;
}

export function pgInfoCommand(program: Command, ctx: CommandContext): void {
  program
    .command('pg:info')
    .description("show the app's PostgreSQL databases: version, size, connections in use of the limit")
    .argument('[name]', 'only this add-on (e.g. DATABASE)')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (name: string | undefined, opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const query = name === undefined ? '' : `?name=${encodeURIComponent(name)}`;
      const list = await ctx.client().request<DatabaseInfoJson[]>('GET', `/api/apps/${app}/databases${query}`);
      if (opts.json) return ctx.io.out(JSON.stringify(list, null, 2));
      ctx.io.out(
        list
          .map((db) =>
            [
              `=== ${db.config_var} (${db.name})`,
              `Version:     PostgreSQL ${db.version}`,
              `Size:        ${formatBytes(db.size_bytes)}`,
              `Connections: ${db.connections}/${db.connection_limit}`,
              `Database:    ${db.database}`,
              `Created:     ${db.created_at}`,
            ].join('\n'),
          )
          .join('\n\n'),
      );
    });
}
