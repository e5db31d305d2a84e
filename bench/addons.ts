// Add-ons (docs/addons.md): provisioning time on the embedded PostgreSQL
// cluster (the first add-on of a home initialises the cluster; then each is a
// role and a database), and a backup of a 50 MB database through Slipway
// (what runs before every postdeploy hook) against a bare `pg_dump -Fc` of it
// run alongside. The process runtime, so that this process reaches the
// databases on loopback as the apps do.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { findPostgresBin } from '../src/addons/postgresql/find-postgres.ts';
import { runChecked } from '../src/exec/index.ts';
import { startSlipway } from '../test/helpers/slipway.ts';
import { fmt, median, percentile } from './lib.ts';

const APPS = 12;
const ROUNDS = 3;

const slipway = await startSlipway({ args: ['--runtime', 'process'] });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-addons-'));
try {
  const provision = async (app: string) => {
    await slipway.api('POST', '/api/apps', { name: app });
    const t0 = performance.now();
    const reply = await slipway.api('POST', `/api/apps/${app}/addons`, { provider: 'postgresql' });
    if (reply.status !== 201) throw new Error(JSON.stringify(reply.json));
    return { api: performance.now() - t0, server: reply.json.ms as number };
  };
  const first = await provision('bench-0');
  const next: { api: number; server: number }[] = [];
  for (let i = 1; i < APPS; i++) next.push(await provision(`bench-${i}`));
  console.log(`provisioning, first add-on of a home (initdb + start + role + database): ${fmt(first.api, 0)} ms (API)`);
  const apis = next.map((n) => n.api);
  const servers = next.map((n) => n.server);
  console.log(
    `provisioning on the running cluster (${next.length}): median ${fmt(median(apis), 0)} ms, p90 ${fmt(percentile(apis, 90), 0)} ms ` +
      `(API); the provider alone: median ${fmt(median(servers), 0)} ms, max ${fmt(Math.max(...servers), 0)} ms`,
  );

  const url: string = (await slipway.api('GET', '/api/apps/bench-0/env')).json.DATABASE_URL;
  const bin = findPostgresBin() ?? '';
  await runChecked(
    [
      `${bin}/psql`,
      url,
      '-qc',
      'CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS body FROM generate_series(1, 460000) g',
    ],
    {
      env: { PATH: '/usr/bin:/bin' },
    },
  );
  const size = await runChecked([`${bin}/psql`, url, '-Atc', 'SELECT pg_database_size(current_database())'], {
    env: { PATH: '/usr/bin:/bin' },
  });
  const ratios: number[] = [];
  const viaSlipway: number[] = [];
  const bare: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const bareRun = (async () => {
      const t0 = performance.now();
      await runChecked([`${bin}/pg_dump`, '-Fc', '-f', path.join(scratch, 'bare.dump'), url], {
        env: { PATH: '/usr/bin:/bin' },
      });
      return performance.now() - t0;
    })();
    const t0 = performance.now();
    const backup = await slipway.api('POST', '/api/apps/bench-0/backups', {});
    const slipwayMs = performance.now() - t0;
    if (backup.status !== 201) throw new Error(JSON.stringify(backup.json));
    const bareMs = await bareRun;
    viaSlipway.push(slipwayMs);
    bare.push(bareMs);
    ratios.push(slipwayMs / bareMs);
  }
  console.log(
    `backup of a ${fmt(Number(size) / 1024 ** 2, 0)} MB database, alongside a bare pg_dump -Fc (${ROUNDS} rounds): ` +
      `Slipway median ${fmt(median(viaSlipway), 0)} ms, bare median ${fmt(median(bare), 0)} ms, ratio median ${fmt(median(ratios), 2)}× (max ${fmt(Math.max(...ratios), 2)}×)`,
  );
} finally {
  await slipway.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
}
