// Router module throughput (secondary figure; the primary one is
// bench/router-throughput.ts, through a real `slipway server` under wrk).
// The router *module* alone, in this process, with no access lines and no
// app log: one small backend process; autocannon (own process, keep-alive,
// loopback) direct to it, through the built-in router (this process plus the
// default number of router worker processes, or SLIPWAY_ROUTER_WORKERS) and
// through nginx configured by the nginx driver, plain (proxy_pass to a
// keep-alive upstream) and with its Lua balancer for live backends; peak
// requests/s with p50/p99 over interleaved rounds (each target's median round
// is reported), then latency at half the plain nginx's peak.
//
// Run alone (`node --import tsx bench/router-module.ts`) it prints all of
// that; `moduleSummary()` measures only the built-in router against plain
// nginx, for the one secondary line of the primary benchmark.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

type Target = readonly [name: string, port: number];

interface Harness {
  readonly targets: readonly Target[];
  readonly workers: number;
  close(): Promise<void>;
}

/** The backend and the routers in front of it; `full` adds direct and nginx with Lua. */
async function startHarness(full: boolean): Promise<Harness> {
  const backend = await startBackendProcess();
  const route = { hostnames: [HOST], backends: [{ id: 'web-1', host: '127.0.0.1', port: backend.port }] };
  const workers = loadSettings({}).routerWorkers;
  const builtin = await startBuiltinRouter({ host: '127.0.0.1', port: 0, domain: 'localhost', workers });
  builtin.setRoute('app', route);
  await builtin.workersListening();
  await builtin.settled();
  // Plain nginx is `proxy_pass` to a keep-alive `upstream` (the driver's configuration without
  // live backends); the driver's default, with its Lua balancer, is measured beside it.
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
  const nginxDriver = full ? await startNginx(true) : undefined;
  const targets: Target[] = [
    ...(full ? ([['direct', backend.port]] as const) : []),
    [BUILTIN, builtin.address.port],
    ['nginx', nginx.address.port],
    ...(nginxDriver ? ([[NGINX_DRIVER, nginxDriver.address.port]] as const) : []),
  ];
  return {
    targets,
    workers,
    async close() {
      await builtin.close();
      await nginx.close();
      await nginxDriver?.close();
      await backend.handle.stop(1000);
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Rounds interleave the targets, so that a noisy moment on the machine hits all of them alike. */
async function measureRounds(targets: readonly Target[], rounds: number): Promise<Map<string, LoadFigures[]>> {
  const warm = { host: HOST, seconds: 1, connections: CONNECTIONS };
  for (const [, port] of targets) await autocannon({ ...warm, port });
  const runs = new Map<string, LoadFigures[]>(targets.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, port] of targets) {
      runs.get(name)?.push(await autocannon({ port, host: HOST, seconds: SECONDS, connections: CONNECTIONS }));
    }
  }
  return runs;
}

/** The run with the median requests/s. */
function medianRun(runs: readonly LoadFigures[]): LoadFigures {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)] as LoadFigures;
}

const roundRatios = (rounds: Map<string, LoadFigures[]>) =>
  (rounds.get(BUILTIN) ?? []).map(
    (f, i) => `${fmt((f.rps / ((rounds.get('nginx') ?? [])[i] as LoadFigures).rps) * 100, 0)}%`,
  );

/** One line: the module alone against plain nginx, labelled as the secondary figure it is. */
export async function moduleSummary(rounds = ROUNDS): Promise<string> {
  const harness = await startHarness(false);
  try {
    const runs = await measureRounds(harness.targets, rounds);
    const builtin = medianRun(runs.get(BUILTIN) ?? []);
    const nginx = medianRun(runs.get('nginx') ?? []);
    return (
      `secondary, router module alone (bench/router-module.ts: autocannon -c ${CONNECTIONS}, ${SECONDS} s, ${rounds} rounds; ` +
      `the router in the benchmark's own process, no access lines, no server; not what users run): ` +
      `built-in ${fmt(builtin.rps, 0)} req/s, plain nginx ${fmt(nginx.rps, 0)} req/s, ` +
      `built-in/nginx ${fmt((builtin.rps / nginx.rps) * 100, 0)}% (rounds ${roundRatios(runs).join(', ')})`
    );
  } finally {
    await harness.close();
  }
}

async function main() {
  const harness = await startHarness(true);
  const { targets, workers } = harness;
  try {
    const rounds = await measureRounds(targets, ROUNDS);
    const peak = new Map([...rounds].map(([name, runs]) => [name, medianRun(runs)]));
    const rpsRange = (name: string) => {
      const rps = (rounds.get(name) ?? []).map((f) => f.rps);
      return `${fmt(Math.min(...rps), 0)}–${fmt(Math.max(...rps), 0)}`;
    };
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
      `router module throughput (secondary figure, the router alone in this process): ${CONNECTIONS} keep-alive connections, ${SECONDS} s each, ${ROUNDS} interleaved rounds (median round shown, range of req/s after it), 'ok' backend in its own process; ` +
        `built-in router in ${workers} process${workers === 1 ? '' : 'es'} (--router-workers ${workers}); nginx one worker per core, ` +
        `'nginx' with proxy_pass to a keep-alive upstream, '${NGINX_DRIVER}' the nginx driver's live-backend balancer`,
      ...[...peak].map(([name, f]) => `${row(name, f)}   (${rpsRange(name)})`),
      `  ratio built-in/nginx ${fmt((builtinPeak.rps / nginxPeak.rps) * 100, 0)}% (round by round: ${roundRatios(rounds).join(', ')})   built-in/direct ${fmt((builtinPeak.rps / direct.rps) * 100, 0)}%` +
        `   built-in/${NGINX_DRIVER} ${fmt((builtinPeak.rps / (peak.get(NGINX_DRIVER) as LoadFigures).rps) * 100, 0)}%`,
      `latency at half of nginx's peak (${half} req/s overall, 10 connections, ${SECONDS} s)`,
      ...[...paced].map(([name, f]) => row(name, f)),
      `  p99 built-in - nginx: ${fmt((paced.get(BUILTIN)?.p99 ?? 0) - (paced.get('nginx')?.p99 ?? 0))} ms`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await harness.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
