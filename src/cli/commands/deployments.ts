// deployments, deployments:info ID, deployments:logs ID [-f]

import type { Command } from 'commander';
import type { DeploymentJson } from '../../core/api-json.ts';
import { shortCommit } from '../../core/commit-sha.ts';
import type { CommandContext } from '../context.ts';
import { EXIT } from '../exit-codes.ts';
import { followDeployment } from '../follow-deployment.ts';
import { ago, paintStatus, table } from '../output.ts';

function duration(start: string, end: string | null): string {
  if (!end) return 'running';
  const ms = Date.parse(end) - Date.parse(start);
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function deploymentCommands(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  const { io } = ctx;
  program
    .command('deployments')
    .description('list deployments, newest first')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const list = await ctx.client().request<DeploymentJson[]>('GET', `/api/apps/${ctx.app(opts.app)}/deployments`);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out('No deployments yet.');
      io.out(
        table(
          list.map((d) => [
            d.id,
            paintStatus(io, d.status),
            d.release,
            d.source,
            d.commit_sha ? shortCommit(d.commit_sha) : null,
            ago(d.created_at),
          ]),
          ['ID', 'STATUS', 'RELEASE', 'SOURCE', 'COMMIT', 'CREATED'],
        ),
      );
    });

  program
    .command('deployments:info')
    .description('show a deployment with its steps and hook')
    .argument('<id>', 'deployment id')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (id: string, opts: { app?: string; json?: boolean }) => {
      const d = await ctx.client().request<DeploymentJson>('GET', `/api/apps/${ctx.app(opts.app)}/deployments/${id}`);
      if (opts.json) return io.out(JSON.stringify(d, null, 2));
      io.out(`=== ${d.id} (${d.app})`);
      io.out(`Status:   ${d.status}${d.step ? ` (step ${d.step})` : ''}`);
      io.out(`Release:  ${d.release ?? '-'}`);
      io.out(`Source:   ${d.source}${d.commit_sha ? ` ${d.commit_sha}` : ''}${d.git_ref ? ` (${d.git_ref})` : ''}`);
      if (d.hook) io.out(`Hook:     ${d.hook.command} (from ${d.hook.source}; exit ${d.hook.exit_code ?? '-'})`);
      if (d.error) io.out(`Error:    ${d.error.code}: ${d.error.message}`);
      io.out(`Created:  ${d.created_at}`);
      if (d.steps.length > 0) {
        io.out('');
        io.out(
          table(
            d.steps.map((s) => [s.name, duration(s.started_at, s.finished_at)]),
            ['STEP', 'DURATION'],
          ),
        );
      }
    });

  program
    .command('deployments:logs')
    .description("print a deployment's log; -f follows it live")
    .argument('<id>', 'deployment id')
    .option('-a, --app <app>', 'app name')
    .option('-f, --follow', 'follow the log until the deployment ends (exit 7 unless it succeeds)')
    .action(async (id: string, opts: { app?: string; follow?: boolean }) => {
      const app = ctx.app(opts.app);
      const client = ctx.client();
      if (opts.follow) {
        const final = await followDeployment(client, io, app, id);
        if (final.status !== 'success') setExit(EXIT.deployFailed);
        return;
      }
      const text = await client.request<string>('GET', `/api/apps/${app}/deployments/${id}/logs`);
      if (text) io.out(text.replace(/\n$/, ''));
    });

  cancelCommand(program, ctx);
}

export function cancelCommand(program: Command, ctx: CommandContext): void {
  program
    .command('deployments:cancel')
    .description('cancel a queued or running deployment (the current release keeps serving)')
    .argument('<id>', 'deployment id')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (id: string, opts: { app?: string; json?: boolean }) => {
      const d = await ctx
        .client()
        .request<DeploymentJson>('POST', `/api/apps/${ctx.app(opts.app)}/deployments/${id}/cancel`);
      if (opts.json) return ctx.io.out(JSON.stringify(d, null, 2));
      ctx.io.out(`Deployment ${d.id}: ${d.status}${d.step ? ` (stopped at step ${d.step})` : ''}`);
    });
}
