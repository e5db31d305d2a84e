// Router throughput as users run it (method in BENCHMARKS.md, "Router
// throughput"): a real `slipway server` (bin/slipway, built-in router, default
// settings apart from ports and home, log level info, so the router writes its
// access line per request into the app's log) with one app deployed whose web
// process is a tiny node:http server; wrk (own process, keep-alive, loopback,
// Host header) against it and, in the same interleaved rounds, against nginx,
// HAProxy and Caddy in front of the *same* container, against a second
// `slipway server --router nginx` (its own container of the same app) and
// against the container directly. Per target: median req/s over the rounds
// with the range, p50/p99; the built-in router's ratios to each peer, round
// by round. Then the router module's figure alone (bench/router-module.ts),
// as a secondary line.
//
// Runs alone: `node --import tsx bench/router-throughput.ts` (or `npm run
// bench:router`). BENCH_RUNTIME=process|sandbox picks the servers' runtime
// (default: the server's own default, sandbox where it can run); the runtime
// used is printed. BENCH_WRK_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS,
// BENCH_THREADS change the load; BENCH_MODULE=0 skips the secondary line.

import os from 'node:os';
import { routerGet } from '../test/helpers/slipway.ts';
import { fmt, median } from './lib.ts';
import { cpuSeconds, descendants } from './process-cpu.ts';
import { moduleSummary } from './router-module.ts';
import { type Peer, peerVersions, startCaddy, startHaproxy, startNginx } from './router-peers.ts';
import { accessLog, backendPids, HOST, type Server, serverPids, startedFrom, startServer } from './server.ts';
import { type WrkFigures, type WrkLoad, wrk, wrkVersion } from './wrk.ts';

const LOAD: WrkLoad = {
  threads: Number(process.env.BENCH_THREADS ?? 2),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 64),
  seconds: Number(process.env.BENCH_WRK_SECONDS ?? 6),
};
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARM_SECONDS = 2;
/** Pause after each wrk run, so that what one target leaves behind (log flushes, closing sockets) does not weigh on the next. */
const SETTLE_MS = 500;
const BUILTIN = 'Slipway built-in';
const DRIVER = 'Slipway nginx driver';

interface Target {
  readonly name: string;
  readonly port: number;
  readonly address?: string;
  /** The proxy's processes, whose CPU time is counted (none for the backend alone). */
  readonly pids: readonly number[];
  /** The backend's processes behind this target. */
  readonly backend: readonly number[];
}

interface Run extends WrkFigures {
  /** CPU time of the target's processes per request, µs. */
  readonly proxyCpu: number;
  /** CPU time of the backend container's processes per request, µs. */
  readonly backendCpu: number;
}

async function measure(t: Target, load: WrkLoad): Promise<Run> {
  const [proxy0, backend0] = [cpuSeconds(t.pids), cpuSeconds(t.backend)];
  const f = await wrk({ ...load, port: t.port, host: HOST, address: t.address });
  const perRequest = (seconds: number) => (seconds * 1e6) / Math.max(1, f.requests);
  return {
    ...f,
    proxyCpu: perRequest(cpuSeconds(t.pids) - proxy0),
    backendCpu: perRequest(cpuSeconds(t.backend) - backend0),
  };
}

const ms = (n: number) => `${fmt(n, 2).padStart(6)} ms`;
const rpsOf = (runs: readonly WrkFigures[]) => runs.map((f) => f.rps);

function report(targets: readonly Target[], runs: Map<string, Run[]>): string[] {
  const us = (values: number[]) => `${fmt(median(values), 0).padStart(3)} µs`;
  const rows = targets.map(({ name, pids }) => {
    const r = runs.get(name) ?? [];
    const rps = rpsOf(r);
    const errors = r.reduce((n, f) => n + f.errors, 0);
    const non2xx = r.reduce((n, f) => n + f.non2xx, 0);
    const range = `(${fmt(Math.min(...rps), 0)}–${fmt(Math.max(...rps), 0)})`;
    return (
      `  ${name.padEnd(21)} ${fmt(median(rps), 0).padStart(6)} req/s ${range.padEnd(14)}` +
      `  p50 ${ms(median(r.map((f) => f.p50)))}  p99 ${ms(median(r.map((f) => f.p99)))}` +
      `  CPU/request: proxy ${pids.length > 0 ? us(r.map((f) => f.proxyCpu)) : '     -'}, backend ${us(r.map((f) => f.backendCpu))}` +
      `  errors ${errors}  non-2xx ${non2xx}`
    );
  });
  const builtin = rpsOf(runs.get(BUILTIN) ?? []);
  const ratios = targets
    .filter(({ name }) => name !== BUILTIN)
    .map(({ name }) => {
      const peer = rpsOf(runs.get(name) ?? []);
      const byRound = builtin.map((b, i) => fmt(b / (peer[i] ?? Number.NaN), 2));
      return `  built-in/${name.padEnd(20)} ${fmt(median(builtin) / median(peer), 2)}   (round by round: ${byRound.join(', ')})`;
    });
  return [...rows, '  ratios of medians, built-in router over:', ...ratios];
}

/** Started, or why not: a missing peer or nginx driver is reported as not measured, not fatal. */
async function optional<T>(name: string, skipped: string[], start: () => Promise<T>): Promise<T | undefined> {
  try {
    return await start();
  } catch (err) {
    skipped.push(`  ${name}: not measured: ${String(err).split('\n')[0]}`);
    return undefined;
  }
}

async function main() {
  const loadBefore = os.loadavg();
  const versions = `${await peerVersions()}, wrk ${await wrkVersion()}, Node.js ${process.version}`;
  const skipped: string[] = [];
  // Both servers start at once; `optional` never rejects, so only the built-in's failure is left to clean up after.
  const [first, second] = await Promise.allSettled([
    startServer('builtin'),
    optional(DRIVER, skipped, () => startServer('nginx')),
  ]);
  const driver = second.status === 'fulfilled' ? second.value : undefined;
  if (first.status === 'rejected') {
    await driver?.slipway.stop();
    throw first.reason;
  }
  const builtin = first.value;
  const peers: Peer[] = [];
  try {
    const options = { backend: builtin.backend, hostname: HOST };
    for (const [name, start] of [
      ['nginx', startNginx],
      ['HAProxy', startHaproxy],
      ['Caddy', startCaddy],
    ] as const) {
      const peer = await optional(name, skipped, () => start(options));
      if (peer) peers.push(peer);
    }
    const backendPid = (s: Server) => {
      const pids = backendPids(s);
      if (pids.length !== 1) throw new Error(`the app's web process was not found (${pids.length} candidates)`);
      return pids;
    };
    const [builtinBackend, driverBackend] = [backendPid(builtin), driver ? backendPid(driver) : []];
    const targets: Target[] = [
      { name: BUILTIN, port: builtin.slipway.routerPort, pids: serverPids(builtin), backend: builtinBackend },
      ...peers.map((p) => ({
        name: p.name,
        port: p.port,
        pids: [p.pid, ...descendants(p.pid, () => true)],
        backend: builtinBackend,
      })),
      ...(driver
        ? [
            {
              name: DRIVER,
              port: driver.slipway.routerPort,
              pids: [...serverPids(driver), ...descendants(driver.slipway.pid ?? 0, (comm) => comm === 'nginx')],
              backend: driverBackend,
            },
          ]
        : []),
      {
        name: 'direct (no proxy)',
        port: builtin.backend.port,
        address: builtin.backend.host,
        pids: [],
        backend: builtinBackend,
      },
    ];
    for (const t of targets) {
      const res = await routerGet(t.port, HOST, '/', t.address).catch((err: Error) => ({
        status: 0,
        body: err.message,
      }));
      if (res.status !== 200 || res.body !== 'ok') throw new Error(`${t.name}: ${res.status} ${res.body.slice(0, 80)}`);
    }
    for (const t of targets) await measure(t, { ...LOAD, seconds: WARM_SECONDS });
    // Rounds interleave the targets (A B C D E, A B C D E, ...), so that a noisy moment on the
    // shared machine hits all of them alike.
    const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        runs.get(t.name)?.push(await measure(t, LOAD));
        await new Promise((r) => setTimeout(r, SETTLE_MS));
      }
    }
    const runtime = (s: Server | undefined) => (s ? `${s.runtime} runtime` : '');
    const lines = [
      `router throughput through a real \`slipway server\`: wrk -t${LOAD.threads} -c${LOAD.connections} -d${LOAD.seconds}s ` +
        `(keep-alive, Host ${HOST}, loopback), ${WARM_SECONDS} s warm-up per target, ${ROUNDS} interleaved rounds; ` +
        `median req/s over the rounds (range), median of the rounds' p50 and p99, CPU time per request of the proxy's and the backend's processes`,
      `  servers: ${runtime(builtin)}${driver && driver.runtime !== builtin.runtime ? ` (nginx driver's: ${runtime(driver)})` : ''}, ` +
        `log level info, started from ${startedFrom(builtin)}; ` +
        `backend: the app's web container (node:http, 'ok') at ${builtin.backend.host}:${builtin.backend.port} for every target ` +
        `but the nginx driver's server (its own container of the same app)`,
      `  access logs: Slipway's built-in to the app log (${accessLog(builtin)}); ` +
        peers
          .map((p) => {
            const lines = p.accessLogLines();
            return `${p.name} ${lines === undefined ? 'to a UDP port nobody reads' : `to a file (${lines} lines)`}`;
          })
          .join(', ') +
        `; the nginx driver's off (as it ships)`,
      `  ${versions}; load average before ${loadBefore.map((l) => fmt(l, 2)).join(' ')}`,
      ...report(targets, runs),
      ...skipped,
    ];
    console.log(lines.join('\n'));
  } finally {
    for (const peer of peers) await peer.stop();
    await builtin.slipway.stop();
    await driver?.slipway.stop();
  }
  // Everything above is stopped, so that the module's figure is taken on an otherwise idle benchmark.
  if (process.env.BENCH_MODULE !== '0') console.log(await moduleSummary());
}

await main();
