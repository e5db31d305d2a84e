// pg:backups, pg:backups:capture [NAME], pg:backups:restore ID --confirm APP
// (docs/addons.md, "Backups").

import type { Command } from 'commander';
import { formatBytes } from '../../core/format-bytes.ts';
import type { CommandContext } from '../context.ts';
import { table } from '../output.ts';

interface BackupJson {
  id: string;
  addon: string;
  automatic: boolean;
  bytes: number;
  created_at: string;
  ms?: number;
}

export function backupCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('pg:backups')
    .description("list the backups of an app's databases, newest first")
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const list = await ctx.client().request<BackupJson[]>('GET', `/api/apps/${app}/backups`);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out(`${app} has no backups: take one with \`slipway pg:backups:capture\`.`);
      io.out(
        table(
          list.map((b) => [
            b.id,
            b.addon,
            b.automatic ? 'before a hook' : 'captured',
            formatBytes(b.bytes),
            b.created_at,
          ]),
          ['ID', 'DATABASE', 'TAKEN', 'SIZE', 'CREATED'],
        ),
      );
    });

  program
    .command('pg:backups:capture')
    .description('back up a database of the app now (pg_dump)')
    .argument('[name]', 'the add-on (default DATABASE, or the only one)')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (name: string | undefined, opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const backup = await ctx.client().request<BackupJson>('POST', `/api/apps/${app}/backups`, {
        json: { addon: name ?? null },
      });
      if (opts.json) return io.out(JSON.stringify(backup, null, 2));
      io.out(`Backed up ${backup.addon}_URL: ${formatBytes(backup.bytes)} in ${backup.ms} ms (backup ${backup.id})`);
      io.out(`Restore it with: slipway pg:backups:restore ${backup.id} --confirm ${app}`);
    });

  program
    .command('pg:backups:restore')
    .description("replace a database's data with a backup's (everything written since is lost)")
    .argument('<id>', 'backup id (b3, a7): see pg:backups')
    .option('-a, --app <app>', 'app name')
    .option('--confirm <app>', 'repeat the app name to confirm')
    .action(async (id: string, opts: { app?: string; confirm?: string }) => {
      const app = ctx.confirmedApp(
        opts,
        (app) => `this replaces a database of ${app} with backup ${id}, losing what was written since`,
      );
      const restored = await ctx
        .client()
        .request<BackupJson>('POST', `/api/apps/${app}/backups/${encodeURIComponent(id)}/restore`);
      io.out(`Restored ${restored.addon}_URL from backup ${restored.id} in ${restored.ms} ms`);
    });
}
