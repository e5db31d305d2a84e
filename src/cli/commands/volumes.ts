// volumes, volumes:add PATH [--size 1g], volumes:remove PATH --confirm APP
// (docs/volumes.md). Adding or removing a volume restarts a running app (no
// hook): the command follows that restart like env:set does.

import type { Command } from 'commander';
import type { DeploymentJson } from '../../core/api-json.ts';
import { formatBytes } from '../../core/format-bytes.ts';
import type { CommandContext } from '../context.ts';
import { followRestart } from '../follow-deployment.ts';
import { table } from '../output.ts';

interface VolumeJson {
  id: string;
  path: string;
  size_bytes: number;
  created_at: string;
}
interface VolumeChangeJson {
  volume: VolumeJson;
  deployment: DeploymentJson | null;
}

export function volumeCommands(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  const { io } = ctx;
  const rollOut = (app: string, change: VolumeChangeJson, summary: string) =>
    followRestart(ctx.client(), io, setExit, {
      app,
      deployment: change.deployment,
      summary,
      noRelease: `${app} has no release yet: its first deployment gets it`,
      notLive: `${app} still runs as it did; the next deployment applies the change.`,
    });

  program
    .command('volumes')
    .description("list an app's volumes")
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const list = await ctx.client().request<VolumeJson[]>('GET', `/api/apps/${app}/volumes`);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out(`${app} has no volumes: add one with \`slipway volumes:add /app/data\`.`);
      io.out(
        table(
          list.map((v) => [v.path, formatBytes(v.size_bytes), v.created_at]),
          ['PATH', 'SIZE', 'CREATED'],
        ),
      );
    });

  program
    .command('volumes:add')
    .description('mount a persistent directory at PATH in every container of the app')
    .argument('<path>', 'absolute path inside the containers, e.g. /app/data or /data')
    .option('--size <size>', 'the most it holds: 512m, 1g... (default 1g)')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (path: string, opts: { app?: string; size?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const change = await ctx.client().request<VolumeChangeJson>('POST', `/api/apps/${app}/volumes`, {
        json: { path, size: opts.size ?? null },
      });
      if (opts.json) return io.out(JSON.stringify(change, null, 2));
      const { volume } = change;
      await rollOut(app, change, `Added volume ${volume.path} (${formatBytes(volume.size_bytes)})`);
    });

  program
    .command('volumes:remove')
    .description('unmount a volume from the app and delete its data')
    .argument('<path>', "the volume's path")
    .option('-a, --app <app>', 'app name')
    .option('--confirm <app>', 'repeat the app name to confirm')
    .action(async (path: string, opts: { app?: string; confirm?: string }) => {
      const app = ctx.confirmedApp(opts, (app) => `this deletes the volume ${path} of ${app} and all its data`);
      const change = await ctx
        .client()
        .request<VolumeChangeJson>('POST', `/api/apps/${app}/volumes/remove`, { json: { path } });
      await rollOut(app, change, `Removed volume ${change.volume.path} and deleted its data`);
    });
}
