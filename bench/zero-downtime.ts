// Zero downtime under load (method in BENCHMARKS.md): for each router driver,
// a real `slipway server`, one app, then 20 consecutive deployments
// alternating success and hook-error while autocannon (own process) sends a
// fixed rate through the router. Failed and non-2xx requests must be 0.

import { startSlipway } from '../test/helpers/slipway.ts';
import { appArchive, deploy } from './deploy-archive.ts';
import { autocannon, fmt } from './lib.ts';

const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 20);
const RATE = Number(process.env.BENCH_RATE ?? 500);

async function run(driver: 'builtin' | 'nginx'): Promise<string> {
  const slipway = await startSlipway({ args: ['--router', driver], env: { SLIPWAY_LOG_LEVEL: 'error' } });
  try {
    await slipway.api('POST', '/api/apps', { name: 'zdt' });
    const good = await appArchive('true');
    const bad = await appArchive('exit 1');
    if ((await deploy(slipway.apiUrl, 'zdt', good)) !== 'success') throw new Error('first deployment failed');
    const t0 = Date.now();
    // Sized from a first estimate; the load runs a little past the last deployment.
    const seconds = Math.max(10, Number(process.env.BENCH_ZD_SECONDS ?? 15));
    const load = autocannon({ port: slipway.routerPort, host: 'zdt.localhost', seconds, connections: 8, rate: RATE });
    await new Promise((r) => setTimeout(r, 1000));
    const statuses = new Map<string, number>();
    for (let i = 0; i < DEPLOYS && Date.now() - t0 < (seconds - 2) * 1000; i++) {
      const status = await deploy(slipway.apiUrl, 'zdt', i % 2 === 0 ? good : bad);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    const deploysMs = Date.now() - t0 - 1000;
    const f = await load;
    const done = [...statuses].map(([s, n]) => `${n} ${s}`).join(', ');
    return (
      `  ${driver.padEnd(8)} deployments: ${done} in ${fmt(deploysMs / 1000)} s; ${f.requests} requests at ${RATE}/s: ` +
      `errors ${f.errors} timeouts ${f.timeouts} non-2xx ${f.non2xx}; p99 ${fmt(f.p99)} ms`
    );
  } finally {
    await slipway.stop();
  }
}

const lines = [`zero downtime: ${DEPLOYS} deployments alternating success / hook-error under a fixed-rate load`];
for (const driver of ['builtin', 'nginx'] as const) lines.push(await run(driver));
console.log(lines.join('\n'));
