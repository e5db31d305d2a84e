// apps, apps:create, apps:info, apps:destroy

import type { Command } from 'commander';
import type { AppJson } from '../../core/api-json.ts';
import { CONTAINER_SIZES, parseContainerSize } from '../../core/container-size.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { ago, table } from '../output.ts';

const SIZES = Object.keys(CONTAINER_SIZES).join(', ');

export function appCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('apps')
    .description('list apps')
    .option('--json', 'output JSON')
    .action(async (opts: { json?: boolean }) => {
      const apps = await ctx.client().request<AppJson[]>('GET', '/api/apps');
      if (opts.json) return io.out(JSON.stringify(apps, null, 2));
      if (apps.length === 0) return io.out('No apps yet: create one with `slipway apps:create NAME`.');
      io.out(
        table(
          apps.map((a) => [a.name, a.current_release, a.last_deployment?.status, a.web_url]),
          ['NAME', 'RELEASE', 'LAST DEPLOY', 'URL'],
        ),
      );
    });

  program
    .command('apps:create')
    .description('create an app')
    .argument('<name>', 'app name: lowercase letters, digits and dashes')
    .option('--json', 'output JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const app = await ctx.client().request<AppJson>('POST', '/api/apps', { json: { name } });
      if (opts.json) return io.out(JSON.stringify(app, null, 2));
      io.out(`Created ${app.name}: ${app.web_url}`);
      io.out(`Deploy it with: slipway deploy -a ${app.name} [DIR]`);
    });

  program
    .command('apps:info')
    .description('show an app')
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = await ctx.client().request<AppJson>('GET', `/api/apps/${ctx.app(opts.app)}`);
      if (opts.json) return io.out(JSON.stringify(app, null, 2));
      io.out(`=== ${app.name}`);
      io.out(`URL:             ${app.web_url}`);
      io.out(`Current release: ${app.current_release ?? '(none)'}`);
      io.out(
        `Last deployment: ${app.last_deployment ? `${app.last_deployment.id} ${app.last_deployment.status}` : '(none)'}`,
      );
      io.out(`Hook timeout:    ${seconds(app.hook_timeout_ms) ?? 'server default'}`);
      io.out(`Boot timeout:    ${seconds(app.boot_timeout_ms) ?? 'server default'}`);
      io.out(`Sizes:           ${app.size} (postdeploy hook: ${app.hook_size})`);
      if (app.domains?.length) io.out(`Domains:         ${app.domains.join(', ')}`);
      io.out(
        `HTTPS:           plain HTTP ${app.force_https ? 'redirected' : 'served'}, HSTS ${app.hsts ? 'on' : 'off'}`,
      );
      io.out(`Created:         ${app.created_at}`);
      const containers = app.containers ?? [];
      if (containers.length > 0) {
        io.out('');
        io.out(
          table(
            containers.map((c) => [c.name, c.state, c.release, ago(c.started_at)]),
            ['CONTAINER', 'STATE', 'RELEASE', 'STARTED'],
          ),
        );
      }
    });

  program
    .command('apps:update')
    .description("change an app's settings")
    .option('-a, --app <app>', 'app name')
    .option('--hook-timeout <duration>', 'postdeploy hook timeout, e.g. 90s or 30m; "default" for the server default')
    .option(
      '--boot-timeout <duration>',
      'how long web containers have to accept connections on $PORT, e.g. 180s; "default" for the server default',
    )
    .option('--size <size>', `container size of the app's processes: ${SIZES}`)
    .option('--hook-size <size>', `container size of the postdeploy hook: ${SIZES}; "default" for M`)
    .option(
      '--restore-on-hook-failure <on|off>',
      'on: a failed postdeploy hook restores the databases from the backups taken before it (docs/addons.md)',
    )
    .option('--force-https', 'redirect plain HTTP requests to HTTPS (ACME challenges excepted)')
    .option('--no-force-https', 'serve plain HTTP requests again')
    .option('--hsts', 'send Strict-Transport-Security (one year) on HTTPS answers')
    .option('--no-hsts', 'stop sending Strict-Transport-Security')
    .action(
      async (opts: {
        app?: string;
        hookTimeout?: string;
        bootTimeout?: string;
        size?: string;
        hookSize?: string;
        restoreOnHookFailure?: string;
        forceHttps?: boolean;
        hsts?: boolean;
      }) => {
        const { restoreOnHookFailure: restore } = opts;
        const given = [
          opts.hookTimeout,
          opts.bootTimeout,
          opts.size,
          opts.hookSize,
          restore,
          opts.forceHttps,
          opts.hsts,
        ];
        if (given.every((v) => v === undefined))
          throw new CliError(
            'cli.usage',
            'nothing to update: pass --hook-timeout, --boot-timeout, --size, --hook-size, --restore-on-hook-failure, --[no-]force-https or --[no-]hsts',
          );
        if (restore !== undefined && restore !== 'on' && restore !== 'off')
          throw new CliError('cli.usage', `--restore-on-hook-failure takes on or off, not ${JSON.stringify(restore)}`);
        const orDefault = (value: string | undefined) => (value === 'default' ? null : value);
        const app = await ctx.client().request<AppJson>('PATCH', `/api/apps/${ctx.app(opts.app)}`, {
          json: {
            hook_timeout: orDefault(opts.hookTimeout),
            boot_timeout: orDefault(opts.bootTimeout),
            size: opts.size === undefined ? undefined : parseContainerSize(opts.size),
            hook_size:
              opts.hookSize === undefined || opts.hookSize === 'default'
                ? orDefault(opts.hookSize)
                : parseContainerSize(opts.hookSize),
            restore_on_hook_failure: restore === undefined ? undefined : restore === 'on',
            force_https: opts.forceHttps,
            hsts: opts.hsts,
          },
        });
        if (opts.hookTimeout !== undefined)
          io.out(`${app.name}: postdeploy hook timeout ${setTo(app.hook_timeout_ms)}`);
        if (opts.bootTimeout !== undefined) io.out(`${app.name}: boot timeout ${setTo(app.boot_timeout_ms)}`);
        if (opts.size !== undefined)
          io.out(`${app.name}: container size set to ${app.size} (applies from the next deployment)`);
        if (opts.hookSize !== undefined) io.out(`${app.name}: postdeploy hook size set to ${app.hook_size}`);
        if (restore !== undefined)
          io.out(
            app.restore_on_hook_failure
              ? `${app.name}: a failed postdeploy hook restores the databases' backups taken before it`
              : `${app.name}: a failed postdeploy hook leaves the databases as it left them (the log names the backups)`,
          );
        if (opts.forceHttps !== undefined)
          io.out(`${app.name}: plain HTTP ${app.force_https ? 'is redirected to HTTPS' : 'is served'}`);
        if (opts.hsts !== undefined) io.out(`${app.name}: HSTS ${app.hsts ? 'on' : 'off'}`);
      },
    );

  program
    .command('apps:destroy')
    .description('destroy an app, its releases, containers and logs')
    .option('-a, --app <app>', 'app name')
    .option('--confirm <name>', 'repeat the app name to confirm')
    .action(async (opts: { app?: string; confirm?: string }) => {
      const app = ctx.confirmedApp(opts, (app) => `this destroys ${app} and everything in it`);
      await ctx.client().request('DELETE', `/api/apps/${app}`);
      io.out(`Destroyed ${app}`);
    });
}

const seconds = (ms: number | null) => (ms === null ? null : `${ms / 1000}s`);
const setTo = (ms: number | null) => (ms === null ? 'is the server default' : `set to ${seconds(ms)}`);
