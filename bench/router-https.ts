// HTTPS through the router (method in BENCHMARKS.md, "HTTPS through the
// router"): one small backend process; wrk (own process, loopback) over HTTPS
// through the built-in router's HTTPS listener (the router module in this
// process, its certificate installed as `certs:add` installs one) and through
// nginx terminating TLS with the same certificate in front of the same backend
// (1 worker, as the built-in is one process, and `auto`), in interleaved
// rounds. Two loads: keep-alive (requests over open TLS connections) and one
// request per connection (`Connection: close`: a TCP and TLS handshake per
// request). Per target the median req/s over the rounds; the built-in's ratio
// to each nginx, round by round.
//
// `node --import tsx bench/router-https.ts` (also part of `npm run bench`).
// BENCH_WRK_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS change the load.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HELPER_ENV, type ProcessHandle, spawnProcess } from '../src/exec/index.ts';
import { TLS12_CIPHERS } from '../src/router/builtin/certificate-set.ts';
import { startBuiltinRouter } from '../src/router/builtin/index.ts';
import { issue, makeRootCa, removeCa } from '../test/helpers/test-certs.ts';
import { fmt, median, startBackendProcess } from './lib.ts';
import { freePort, NGINX_PROXY_TAIL, nginxHead } from './router-peers.ts';
import { type WrkFigures, wrk } from './wrk.ts';

const SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const HOST = 'bench.localhost';

interface Target {
  readonly name: string;
  readonly port: number;
}

async function startNginxTls(
  name: string,
  workers: string,
  backendPort: number,
  cert: { certFile: string; keyFile: string },
): Promise<Target & { stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-nginx-tls-'));
  const port = await freePort();
  const config = [
    ...nginxHead(dir, workers, 'off'),
    `  upstream app {\n    server 127.0.0.1:${backendPort};\n    keepalive 64;\n  }`,
    `  server {\n    listen 127.0.0.1:${port} ssl;\n    server_name ${HOST} 127.0.0.1;`,
    `    ssl_certificate ${cert.certFile};\n    ssl_certificate_key ${cert.keyFile};`,
    `    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ${TLS12_CIPHERS};\n    ssl_prefer_server_ciphers on;`,
    ...NGINX_PROXY_TAIL,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), config);
  const output: string[] = [];
  const handle: ProcessHandle = spawnProcess(['nginx', '-p', `${dir}/`, '-e', 'stderr', '-c', `${dir}/nginx.conf`], {
    env: HELPER_ENV,
    onLine: (_s, line) => output.push(line),
  });
  await waitForPort(port, () => output.join('\n'));
  return {
    name,
    port,
    async stop() {
      await handle.stop(2_000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nginx did not listen on ${port}:\n${output()}`);
}

const ca = await makeRootCa('Bench Root');
const leaf = await issue(ca, { names: [HOST] });
const backend = await startBackendProcess();
async function startBuiltin(workers: number) {
  const router = await startBuiltinRouter({ host: '127.0.0.1', port: 0, tlsPort: 0, domain: 'localhost', workers });
  await router.workersListening();
  router.setRoute('bench', { hostnames: [HOST], backends: [{ id: 'web-1', host: '127.0.0.1', port: backend.port }] });
  // wrk sends the URL's host (127.0.0.1) as SNI: the certificate is installed for that name too.
  router.setCertificates([{ hostnames: [HOST, '127.0.0.1'], cert: leaf.cert + ca.cert, key: leaf.key }]);
  await router.settled();
  return router;
}
const router = await startBuiltin(1);
const router2 = await startBuiltin(2);
const nginxOne = await startNginxTls('nginx, 1 worker', '1', backend.port, leaf);
const nginxAuto = await startNginxTls(`nginx, ${os.cpus().length} workers`, 'auto', backend.port, leaf);
const targets: Target[] = [
  { name: 'built-in (1 process)', port: router.tlsAddress?.port as number },
  nginxOne,
  nginxAuto,
  { name: 'built-in (2 processes)', port: router2.tlsAddress?.port as number },
];

const loads = [
  { name: 'keep-alive', headers: [] as string[], connections: CONNECTIONS },
  { name: 'new connection per request', headers: ['Connection: close'], connections: 16 },
];
const lines: string[] = [];
lines.push(
  `HTTPS through the router: wrk ${SECONDS}s × ${ROUNDS} interleaved rounds, loopback, ECDSA P-256 certificate, TLS as negotiated (1.3)`,
);
try {
  for (const load of loads) {
    const runs = new Map<string, WrkFigures[]>(targets.map((t) => [t.name, []]));
    for (const t of targets)
      await wrk({
        threads: 2,
        connections: load.connections,
        seconds: 1,
        port: t.port,
        host: HOST,
        https: true,
        headers: load.headers,
      });
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const f = await wrk({
          threads: 2,
          connections: load.connections,
          seconds: SECONDS,
          port: t.port,
          host: HOST,
          https: true,
          headers: load.headers,
        });
        runs.get(t.name)?.push(f);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    lines.push(`${load.name} (${load.connections} connections, 2 wrk threads):`);
    for (const t of targets) {
      const r = runs.get(t.name) as WrkFigures[];
      const rps = r.map((f) => f.rps);
      const errors = r.reduce((n, f) => n + f.errors + f.non2xx, 0);
      lines.push(
        `  ${t.name.padEnd(22)} ${fmt(median(rps), 0).padStart(7)} req/s (${fmt(Math.min(...rps), 0)}-${fmt(Math.max(...rps), 0)}), ` +
          `p50 ${fmt(median(r.map((f) => f.p50)), 2)} ms, p99 ${fmt(median(r.map((f) => f.p99)), 2)} ms, errors ${errors}`,
      );
    }
    const builtin = runs.get(targets[0]?.name as string) as WrkFigures[];
    for (const peer of targets.slice(1, 3)) {
      const ratios = builtin.map((f, i) => f.rps / ((runs.get(peer.name) as WrkFigures[])[i]?.rps ?? 1));
      lines.push(
        `  built-in / ${peer.name}: ${fmt(median(ratios), 2)}× (rounds: ${ratios.map((x) => fmt(x, 2)).join(', ')})`,
      );
    }
    const two = runs.get('built-in (2 processes)') as WrkFigures[];
    const auto = runs.get(nginxAuto.name) as WrkFigures[];
    const twoRatios = two.map((f, i) => f.rps / (auto[i]?.rps ?? 1));
    lines.push(
      `  built-in (2 processes) / ${nginxAuto.name}: ${fmt(median(twoRatios), 2)}× (rounds: ${twoRatios.map((x) => fmt(x, 2)).join(', ')})`,
    );
  }
} finally {
  await Promise.all([nginxOne.stop(), nginxAuto.stop(), router.close(), router2.close(), backend.handle.stop(1_000)]);
  removeCa(ca);
}
process.stdout.write(`${lines.join('\n')}\n`);
