// HTTPS through the router (method in BENCHMARKS.md, "HTTPS through the
// router"): a real `slipway server` (bench/server.ts: built-in router, its
// HTTPS listener on, log level info so every request writes its access line)
// with the app deployed and a certificate added through the CLI (`certs:add`,
// a leaf for the app's hostname from a private root made by openssl); nginx
// terminating TLS with the same certificate in front of the *same* app
// container (1 worker, as the built-in is one process, and `auto`), its
// access log written to a file; a second server with `--router-workers 2`
// (its own container of the same app). wrk (own process, loopback) asks for
// https://bench.localhost:PORT/ so that its SNI is the app's hostname: it runs
// in a private mount namespace whose /etc/hosts maps that name to 127.0.0.1
// (bench/wrk.ts). Two loads in interleaved rounds: keep-alive (requests over
// open TLS connections) and one request per connection (`Connection: close`:
// a TCP and TLS handshake per request). Per target every round's req/s and
// their median, and the CPU time its processes spent per request (the
// server's and its router workers' for the built-in, the master's and
// workers' for nginx); the built-in's ratios to nginx, round by round.
//
// `node --import tsx bench/router-https.ts` (also part of `npm run bench`).
// BENCH_WRK_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS change the load;
// BENCH_RUNTIME the servers' runtime (bench/server.ts).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HELPER_ENV, type ProcessHandle, spawnProcess } from '../src/exec/index.ts';
import { TLS12_CIPHERS } from '../src/router/builtin/certificate-set.ts';
import { httpsGet, issue, makeRootCa, removeCa, type TestCa } from '../test/helpers/test-certs.ts';
import { fmt, median } from './lib.ts';
import { cpuSeconds, descendants } from './process-cpu.ts';
import { type Backend, freePort, NGINX_PROXY_TAIL, nginxHead, peerVersions } from './router-peers.ts';
import { APP, accessLog, HOST, type Server, serverPids, startedFrom, startServer } from './server.ts';
import { type WrkFigures, wrk, wrkVersion } from './wrk.ts';

const SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SETTLE_MS = 300;

interface Target {
  readonly name: string;
  readonly port: number;
  /** The proxy's processes now, whose CPU time per request is reported. */
  pids(): readonly number[];
}

interface Run extends WrkFigures {
  /** CPU time of the target's processes per request, µs. */
  readonly cpu: number;
}

interface Nginx extends Target {
  accessLogLines(): number;
  stop(): Promise<void>;
}

async function startNginxTls(name: string, workers: string, backend: Backend, chainFile: string, keyFile: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-nginx-tls-'));
  const port = await freePort();
  const config = [
    ...nginxHead(dir, workers, `${dir}/access.log combined`),
    `  upstream app {\n    server ${backend.host}:${backend.port};\n    keepalive 64;\n    keepalive_requests 100000;\n  }`,
    `  server {\n    listen 127.0.0.1:${port} ssl;\n    server_name ${HOST};`,
    `    ssl_certificate ${chainFile};\n    ssl_certificate_key ${keyFile};`,
    `    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ${TLS12_CIPHERS};\n    ssl_prefer_server_ciphers on;`,
    ...NGINX_PROXY_TAIL,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), config);
  const output: string[] = [];
  const handle: ProcessHandle = spawnProcess(['nginx', '-p', `${dir}/`, '-e', 'stderr', '-c', `${dir}/nginx.conf`], {
    env: HELPER_ENV,
    onLine: (_s, line) => output.push(line),
  });
  const nginx: Nginx = {
    name,
    port,
    pids: () => [handle.pid ?? 0, ...descendants(handle.pid ?? 0, (comm) => comm === 'nginx')],
    accessLogLines: () => fs.readFileSync(`${dir}/access.log`, 'utf8').split('\n').length - 1,
    async stop() {
      await handle.stop(2_000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return nginx;
}

/** Waits until the target answers 'ok' over HTTPS for the app's hostname with a certificate `ca` issued. */
async function servesHttps(t: Target, ca: TestCa): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    const res = await httpsGet(t.port, HOST, ca.cert).catch((err: Error) => ({ status: 0, body: err.message }));
    if (res.status === 200 && res.body === 'ok') return;
    last = `${res.status} ${res.body.slice(0, 100)}`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${t.name} did not serve ${HOST} over HTTPS: ${last}`);
}

/** The server's HTTPS port, with the certificate added as a user adds one. */
async function addCertificate(server: Server, chainFile: string, keyFile: string): Promise<number> {
  const added = await server.slipway.cli(['certs:add', chainFile, keyFile, '-a', APP]);
  if (added.code !== 0) throw new Error(`certs:add: ${added.stderr}`);
  const port = server.slipway.routerTlsPort;
  if (port === null) throw new Error('the server did not report its HTTPS port');
  return port;
}

const loads = [
  { name: 'keep-alive', headers: [] as string[], connections: CONNECTIONS },
  { name: 'new connection per request (a full TLS handshake each)', headers: ['Connection: close'], connections: 16 },
];

function report(targets: readonly Target[], runs: Map<string, Run[]>, ratios: [string, string][]): string[] {
  const lines: string[] = [];
  for (const t of targets) {
    const r = runs.get(t.name) ?? [];
    const rps = r.map((f) => f.rps);
    const errors = r.reduce((n, f) => n + f.errors + f.non2xx, 0);
    lines.push(
      `  ${t.name.padEnd(22)} ${fmt(median(rps), 0).padStart(6)} req/s (rounds: ${rps.map((x) => fmt(x, 0)).join(', ')}), ` +
        `p50 ${fmt(median(r.map((f) => f.p50)), 2)} ms, p99 ${fmt(median(r.map((f) => f.p99)), 2)} ms, ` +
        `CPU/request ${fmt(median(r.map((f) => f.cpu)), 0)} µs, errors ${errors}`,
    );
  }
  for (const [mine, peer] of ratios) {
    const a = runs.get(mine) ?? [];
    const b = runs.get(peer) ?? [];
    const byRound = a.map((f, i) => f.rps / (b[i]?.rps ?? Number.NaN));
    lines.push(
      `  ${mine} / ${peer}: ${fmt(median(byRound), 2)}× (rounds: ${byRound.map((x) => fmt(x, 2)).join(', ')})`,
    );
  }
  return lines;
}

async function main() {
  const loadBefore = os.loadavg();
  const versions = `${await peerVersions()}, wrk ${await wrkVersion()}, Node.js ${process.version}`;
  const ca = await makeRootCa('Bench Root');
  const leaf = await issue(ca, { names: [HOST] });
  const chainFile = path.join(ca.dir, 'chain.pem');
  fs.writeFileSync(chainFile, leaf.cert + ca.cert);
  const started = await Promise.allSettled([
    startServer('builtin', ['--router-tls-port', '0']),
    startServer('builtin', ['--router-tls-port', '0', '--router-workers', '2']),
  ]);
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const nginxes: Nginx[] = [];
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [one, two] = servers as [Server, Server];
    const builtinOne = {
      name: 'built-in (1 process)',
      port: await addCertificate(one, chainFile, leaf.keyFile),
      pids: () => serverPids(one),
    };
    const builtinTwo = {
      name: 'built-in (2 processes)',
      port: await addCertificate(two, chainFile, leaf.keyFile),
      pids: () => serverPids(two),
    };
    nginxes.push(await startNginxTls('nginx, 1 worker', '1', one.backend, chainFile, leaf.keyFile));
    nginxes.push(
      await startNginxTls(`nginx, ${os.cpus().length} workers`, 'auto', one.backend, chainFile, leaf.keyFile),
    );
    const [nginxOne, nginxAuto] = nginxes as [Nginx, Nginx];
    const targets: Target[] = [builtinOne, nginxOne, nginxAuto, builtinTwo];
    for (const t of targets) await servesHttps(t, ca);

    const lines = [
      `HTTPS through a real \`slipway server\`: wrk -t2 ${SECONDS}s × ${ROUNDS} interleaved rounds (1 s warm-up each), ` +
        `loopback, SNI and Host ${HOST}, ECDSA P-256 certificate added with certs:add, TLS as negotiated (1.3)`,
      `  servers: ${one.runtime} runtime, log level info, started from ${startedFrom(one)}; ` +
        `backend: the app's web container at ${one.backend.host}:${one.backend.port} for the 1-process server and both nginx, ` +
        `its own container of the same app for the 2-process server`,
      `  ${versions}; load average before ${loadBefore.map((l) => fmt(l, 2)).join(' ')}`,
    ];
    for (const load of loads) {
      const run = async (t: Target, seconds: number): Promise<Run> => {
        const pids = t.pids();
        const cpu0 = cpuSeconds(pids);
        const f = await wrk({
          threads: 2,
          connections: load.connections,
          seconds,
          port: t.port,
          host: HOST,
          sni: HOST,
          https: true,
          headers: load.headers,
        });
        return { ...f, cpu: ((cpuSeconds(pids) - cpu0) * 1e6) / Math.max(1, f.requests) };
      };
      for (const t of targets) await run(t, 1);
      const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
      // Rounds interleave the targets, so that a noisy moment on the shared machine hits all of them alike.
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of targets) {
          runs.get(t.name)?.push(await run(t, SECONDS));
          await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        }
      }
      lines.push(`${load.name} (${load.connections} connections):`);
      lines.push(
        ...report(targets, runs, [
          [builtinOne.name, nginxOne.name],
          [builtinOne.name, nginxAuto.name],
          [builtinTwo.name, nginxAuto.name],
        ]),
      );
    }
    lines.push(
      `  access lines: built-in (1 process) to the app log (${accessLog(one)}); ` +
        `nginx to files (${nginxOne.accessLogLines()} and ${nginxAuto.accessLogLines()} lines)`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const nginx of nginxes) await nginx.stop();
    for (const server of servers) await server.slipway.stop();
    removeCa(ca);
  }
}

await main();
