// Router throughput and latency (method in BENCHMARKS.md): one small backend
// process; autocannon (own process, keep-alive, loopback) direct to it,
// through the built-in router (started as `slipway server` starts it: this
// process plus the default number of router worker processes, or
// SLIPWAY_ROUTER_WORKERS) and through nginx configured by the nginx driver,
// plain (proxy_pass to a keep-alive upstream: the reference) and with its Lua
// balancer for live backends (the driver's default); peak requests/s with
// p50/p99 over interleaved rounds (each target's median round is reported),
// then latency at half the plain nginx's peak.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config/settings.ts';
import { startBuiltinRouter } from '../src/router/builtin/index.ts';
import { startNginxRouter } from '../src/router/nginx/index.ts';
import { autocannon, fmt, type LoadFigures, startBackendProcess } from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HOST = 'app.localhost';
const BUILTIN = 'built-in router';
const NGINX_DRIVER = 'nginx, Lua';

async function main() {
  const backend = await startBackendProcess();
  const route = { hostnames: [HOST], backends: [{ id: 'web-1', host: '127.0.0.1', port: backend.port }] };
  const workers = loadSettings({}).routerWorkers;
  const builtin = await startBuiltinRouter({ host: '127.0.0.1', port: 0, domain: 'localhost', workers });
  builtin.setRoute('app', route);
  await builtin.workersListening();
  await builtin.settled();
  // The reference is nginx as the issue names it: `proxy_pass` to a keep-alive `upstream` (the
  // driver's configuration without live backends); the driver's default, with its Lua balancer,
  // is measured beside it.
  const dirs: string[] = [];
  const startNginx = async (liveBackends: boolean) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-nginx-'));
    dirs.push(dir);
    const nginx = await startNginxRouter({ host: '127.0.0.1', port: 0, domain: 'localhost', dir, liveBackends });
    nginx.setRoute('app', route);
    await nginx.settled();
    return nginx;
  };
  const nginx = await startNginx(false);
  const nginxDriver = await startNginx(true);
  const targets = [
    ['direct', backend.port],
    [BUILTIN, builtin.address.port],
    ['nginx', nginx.address.port],
    [NGINX_DRIVER, nginxDriver.address.port],
  ] as const;
  try {
    const warm = { host: HOST, seconds: 1, connections: CONNECTIONS };
    for (const [, port] of targets) await autocannon({ ...warm, port });
    // Rounds interleave the targets, so that a noisy moment on the machine hits all of them alike.
    const rounds = new Map<string, LoadFigures[]>(targets.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, port] of targets) {
        rounds.get(name)?.push(await autocannon({ port, host: HOST, seconds: SECONDS, connections: CONNECTIONS }));
      }
    }
    const peak = new Map([...rounds].map(([name, runs]) => [name, medianRun(runs)]));
    const rpsRange = (name: string) => {
      const rps = (rounds.get(name) ?? []).map((f) => f.rps);
      return `${fmt(Math.min(...rps), 0)}–${fmt(Math.max(...rps), 0)}`;
    };
    const roundRatios = (rounds.get(BUILTIN) ?? []).map(
      (f, i) => `${fmt((f.rps / ((rounds.get('nginx') ?? [])[i] as LoadFigures).rps) * 100, 0)}%`,
    );
    const nginxPeak = peak.get('nginx') as LoadFigures;
    const half = Math.round(nginxPeak.rps / 2);
    const paced = new Map<string, LoadFigures>();
    for (const [name, port] of targets) {
      paced.set(name, await autocannon({ port, host: HOST, seconds: SECONDS, connections: 10, rate: half }));
    }
    const row = (name: string, f: LoadFigures) =>
      `  ${name.padEnd(16)} ${fmt(f.rps, 0).padStart(7)} req/s   p50 ${fmt(f.p50).padStart(5)} ms   p99 ${fmt(f.p99).padStart(6)} ms   errors ${f.errors + f.timeouts}  non-2xx ${f.non2xx}`;
    const builtinPeak = peak.get(BUILTIN) as LoadFigures;
    const direct = peak.get('direct') as LoadFigures;
    const lines = [
      `router throughput: ${CONNECTIONS} keep-alive connections, ${SECONDS} s each, ${ROUNDS} interleaved rounds (median round shown, range of req/s after it), 'ok' backend in its own process; ` +
        `built-in router in ${workers} process${workers === 1 ? '' : 'es'} (--router-workers ${workers}); nginx one worker per core, ` +
        `'nginx' with proxy_pass to a keep-alive upstream, '${NGINX_DRIVER}' the nginx driver's live-backend balancer`,
      ...[...peak].map(([name, f]) => `${row(name, f)}   (${rpsRange(name)})`),
      `  ratio built-in/nginx ${fmt((builtinPeak.rps / nginxPeak.rps) * 100, 0)}% (round by round: ${roundRatios.join(', ')})   built-in/direct ${fmt((builtinPeak.rps / direct.rps) * 100, 0)}%` +
        `   built-in/${NGINX_DRIVER} ${fmt((builtinPeak.rps / (peak.get(NGINX_DRIVER) as LoadFigures).rps) * 100, 0)}%`,
      `latency at half of nginx's peak (${half} req/s overall, 10 connections, ${SECONDS} s)`,
      ...[...paced].map(([name, f]) => row(name, f)),
      `  p99 built-in - nginx: ${fmt((paced.get(BUILTIN)?.p99 ?? 0) - (paced.get('nginx')?.p99 ?? 0))} ms`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await builtin.close();
    await nginx.close();
    await nginxDriver.close();
    await backend.handle.stop(1000);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The run with the median requests/s. */
function medianRun(runs: readonly LoadFigures[]): LoadFigures {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)] as LoadFigures;
}

await main();
