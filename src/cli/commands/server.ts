// slipway server: starts the platform on its embedded defaults (SQLite, the
// sandbox or process runtime, the built-in router; the store on PostgreSQL
// with SLIPWAY_DATABASE_URL) and runs until SIGINT/SIGTERM.

import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { selfCommand } from '../self-command.ts';

/** The options below, by commander's names (the flag names of config/settings.ts). */
type ServerFlags = Record<string, string | undefined>;

export function serverCommand(program: Command, ctx: CommandContext): void {
  program
    .command('server')
    .description('start Slipway (API and dashboard, router, runtime)')
    .option('--home <dir>', 'data directory (SLIPWAY_HOME, default ./.slipway)')
    .option('--host <host>', 'API listen address (SLIPWAY_HOST, default 127.0.0.1)')
    .option('--port <n>', 'API port (SLIPWAY_PORT, default 5100)')
    .option('--router-port <n>', 'router port (SLIPWAY_ROUTER_PORT, default 8080)')
    .option('--router-tls-port <n>', 'router HTTPS port (SLIPWAY_ROUTER_TLS_PORT; default: no HTTPS)')
    .option('--domain <domain>', 'apps answer at <app>.<domain> (SLIPWAY_DOMAIN, default localhost)')
    .option(
      '--api-tls-cert <file>',
      'serve the API and dashboard over HTTPS with this PEM chain (SLIPWAY_API_TLS_CERT)',
    )
    .option('--api-tls-key <file>', "that certificate's PEM private key (SLIPWAY_API_TLS_KEY)")
    .option(
      '--api-domain <name>',
      'serve the API and dashboard over HTTPS with an ACME certificate for this name (SLIPWAY_API_DOMAIN)',
    )
    .option('--boot-timeout <duration>', 'how long a web container has to accept TCP on $PORT (default 60s)')
    .option('--hook-timeout <duration>', 'postdeploy hook timeout (default 20m)')
    .option(
      '--runtime <driver>',
      'runtime driver: sandbox, process or docker (SLIPWAY_RUNTIME; default: sandbox when this host can run it)',
    )
    .option('--router <driver>', 'router driver: builtin or nginx (SLIPWAY_ROUTER, default builtin)')
    .option(
      '--router-workers <n>',
      'built-in router: processes serving router traffic, the server included (SLIPWAY_ROUTER_WORKERS; default 1)',
    )
    .option(
      '--keep-apps-on-exit',
      'a stop leaves the apps (docker, swarm) and nginx running for the next start to take over (SLIPWAY_KEEP_APPS_ON_EXIT)',
    )
    .option(
      '--log-format <format>',
      'server log lines: pretty or json (SLIPWAY_LOG_FORMAT; default: pretty on a terminal, else json)',
    )
    .option(
      '--disk-reserve <size>',
      'free space kept for the server: under it, deployments and pushes are refused (SLIPWAY_DISK_RESERVE; default 1g, or e.g. 5%)',
    )
    .addHelpText(
      'after',
      '\nThe store is SQLite in the data directory, or PostgreSQL with SLIPWAY_DATABASE_URL=postgres://... (an\nenvironment variable only, so that its password stays out of ps; docs/scale-out.md).',
    )
    .action(async (flags: ServerFlags) => {
      const { io } = ctx;
      // Loaded here so that every other command starts without the server's modules.
      const { loadSettings } = await import('../../config/settings.ts');
      const { startServer } = await import('../../server.ts');
      const { serverLogger } = await import('../server-logger.ts');
      const settings = loadSettings(flags, io.env, io.cwd);
      const server = await startServer(settings, await serverLogger(settings, process.stdout));
      io.out(`Slipway is running`);
      io.out(`  API and dashboard: ${server.apiUrl}`);
      if (server.routerTlsPort !== null)
        io.out(`  HTTPS:             https://<app>.${settings.domain}:${server.routerTlsPort}`);
      io.out(`  Router:            http://<app>.${settings.domain}:${new URL(server.routerUrl).port}`);
      io.out(`  Data:              ${settings.home}`);
      if (server.adminToken) {
        io.out('');
        io.out(`Admin token (shown once, stored hashed): ${server.adminToken}`);
        io.out(`Log in with: ${selfCommand(io.env, io.cwd)} login --url ${server.apiUrl} --token ${server.adminToken}`);
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          io.err(`${signal}: stopping Slipway...`);
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      await server.close();
    });
}
