// certs [--api], certs:add CERT KEY, certs:remove ID, certs:auto on|off (docs/https.md)

import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ApiCertJson, CertJson, CertsJson } from '../../core/api-json.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { type Io, table } from '../output.ts';

const day = (iso: string | null) => (iso === null ? null : iso.slice(0, 10));

/** The certificates as a table, then each one's last failed attempt. */
function printCerts(io: Io, certificates: readonly CertJson[]): void {
  io.out(
    table(
      certificates.map((c) => [c.id, c.source, c.status, c.served_for.join(', '), day(c.not_after), c.issuer]),
      ['ID', 'SOURCE', 'STATUS', 'SERVED FOR', 'EXPIRES', 'ISSUER'],
    ),
  );
  for (const c of certificates.filter((c) => c.last_error !== null))
    io.out(`${c.id}: last attempt failed: ${c.last_error}${c.next_attempt_at ? ` (next: ${c.next_attempt_at})` : ''}`);
}

const API_TLS: Record<ApiCertJson['tls'], string> = {
  off: 'The API and dashboard speak plain HTTP: no certificate (HTTPS: `slipway server --api-tls-cert/--api-tls-key` or `--api-domain`)',
  own: 'The API and dashboard speak HTTPS with your certificate (--api-tls-cert, read at start):',
  acme: 'The API and dashboard speak HTTPS with an ACME certificate (--api-domain):',
};

export function certCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const readLocal = (file: string, what: string) => {
    try {
      return fs.readFileSync(path.resolve(io.cwd, file), 'utf8');
    } catch (err) {
      throw new CliError(
        'cli.usage',
        `cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };

  program
    .command('certs')
    .description("list an app's certificates (source, state, expiry, issuer, last error), or the API's with --api")
    .option('-a, --app <app>', 'app name')
    .option('--api', "the API and dashboard's certificate instead of an app's")
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; api?: boolean; json?: boolean }) => {
      if (opts.api) {
        const own = await ctx.client().request<ApiCertJson>('GET', '/api/server/certificate');
        if (opts.json) return io.out(JSON.stringify(own, null, 2));
        io.out(API_TLS[own.tls]);
        if (own.certificate !== null) printCerts(io, [own.certificate]);
        return;
      }
      const app = ctx.app(opts.app);
      const certs = await ctx.client().request<CertsJson>('GET', `/api/apps/${app}/certs`);
      if (opts.json) return io.out(JSON.stringify(certs, null, 2));
      io.out(`ACME certificates (certs:auto): ${certs.auto ? 'on' : 'off'}`);
      if (certs.certificates.length === 0) return io.out(`${app} has no certificates.`);
      printCerts(io, certs.certificates);
    });

  program
    .command('certs:add')
    .description('serve your own certificate (PEM chain, leaf first) and private key for the app')
    .argument('<cert>', 'certificate chain file (PEM)')
    .argument('<key>', 'private key file (PEM, unencrypted)')
    .option('-a, --app <app>', 'app name')
    .option('--domain <hostname>', 'serve it for this hostname of the app only (default: every one it covers)')
    .action(async (certFile: string, keyFile: string, opts: { app?: string; domain?: string }) => {
      const app = ctx.app(opts.app);
      const cert = readLocal(certFile, 'certificate');
      const key = readLocal(keyFile, 'key');
      const added = await ctx.client().request<CertJson>('POST', `/api/apps/${app}/certs`, {
        json: { cert, key, domain: opts.domain },
      });
      io.out(`Added ${added.id} to ${app}: served for ${added.served_for.join(', ')}, expires ${day(added.not_after)}`);
    });

  program
    .command('certs:remove')
    .description('stop serving a certificate and delete it (its ID from `slipway certs`)')
    .argument('<id>', 'certificate ID')
    .option('-a, --app <app>', 'app name')
    .action(async (id: string, opts: { app?: string }) => {
      const app = ctx.app(opts.app);
      await ctx.client().request('DELETE', `/api/apps/${app}/certs/${encodeURIComponent(id)}`);
      io.out(`Removed ${id} from ${app}`);
    });

  program
    .command('certs:auto')
    .description("obtain and renew ACME (Let's Encrypt) certificates for every hostname of the app, or stop")
    .argument('<state>', 'on or off')
    .option('-a, --app <app>', 'app name')
    .action(async (state: string, opts: { app?: string }) => {
      if (state !== 'on' && state !== 'off') throw new CliError('cli.usage', 'certs:auto takes on or off');
      const app = ctx.app(opts.app);
      await ctx.client().request<CertsJson>('PATCH', `/api/apps/${app}/certs`, { json: { auto: state === 'on' } });
      io.out(
        state === 'on'
          ? `ACME certificates on for ${app}: they are obtained in the background (see \`slipway certs\`)`
          : `ACME certificates off for ${app}: the ones obtained are served until removed or expired`,
      );
    });
}
