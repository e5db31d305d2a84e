// ps, scale TYPE=N..., restart [TYPE]: the running containers of an app.

import type { Command } from 'commander';
import type { ContainerJson } from '../../core/api-json.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { ago, type Io, paintStatus, table } from '../output.ts';

function psTable(io: Io, containers: readonly ContainerJson[]): string {
  if (containers.length === 0) return 'No containers running.';
  // A NODE column where the runtime places containers on several hosts (swarm).
  const placed = containers.some((c) => c.node !== undefined);
  return table(
    containers.map((c) => [
      c.name,
      c.type,
      paintStatus(io, c.state),
      c.release,
      ago(c.started_at).replace(/ ago$/, ''),
      c.restarts,
      ...(placed ? [c.node ?? '-'] : []),
    ]),
    ['NAME', 'TYPE', 'STATE', 'RELEASE', 'UPTIME', 'RESTARTS', ...(placed ? ['NODE'] : [])],
  );
}

export function processCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('ps')
    .description('list the running containers')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const list = await ctx.client().request<ContainerJson[]>('GET', `/api/apps/${ctx.app(opts.app)}/containers`);
      io.out(opts.json ? JSON.stringify(list, null, 2) : psTable(io, list));
    });

  program
    .command('scale')
    .description('set how many containers of each process type run (web scales without downtime)')
    .argument('<pairs...>', 'TYPE=QUANTITY pairs, e.g. web=2 worker=0')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (pairs: string[], opts: { app?: string; json?: boolean }) => {
      const quantities: Record<string, number> = {};
      for (const pair of pairs) {
        const match = /^([A-Za-z0-9_-]+)[=:](\d+)$/.exec(pair);
        if (!match?.[1]) throw new CliError('cli.usage', `expected TYPE=QUANTITY, got ${JSON.stringify(pair)}`);
        quantities[match[1]] = Number(match[2]);
      }
      const reply = await ctx
        .client()
        .request<{ formation: Record<string, number>; release: string | null; containers: ContainerJson[] }>(
          'PATCH',
          `/api/apps/${ctx.app(opts.app)}/formation`,
          { json: quantities },
        );
      if (opts.json) return io.out(JSON.stringify(reply, null, 2));
      const scaled = Object.entries(reply.formation)
        .map(([t, n]) => `${t}=${n}`)
        .join(' ');
      if (reply.release === null) return io.out(`Scaled to ${scaled} (no release yet: the first deployment uses it)`);
      io.out(`Scaled to ${scaled}`);
      io.out(psTable(io, reply.containers));
    });

  program
    .command('restart')
    .description('restart all containers, or those of one type (rolling for web)')
    .argument('[type]', 'process type, e.g. web')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (type: string | undefined, opts: { app?: string; json?: boolean }) => {
      const reply = await ctx
        .client()
        .request<{ restarted: number; containers: ContainerJson[] }>('POST', `/api/apps/${ctx.app(opts.app)}/restart`, {
          json: type ? { type } : {},
        });
      if (opts.json) return io.out(JSON.stringify(reply, null, 2));
      io.out(`Restarted ${reply.restarted} container(s)`);
      io.out(psTable(io, reply.containers));
    });
}
