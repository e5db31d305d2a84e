// The benchmarks' real server: a `slipway server` (bin/slipway, log level
// info, so the built-in router writes its access line per request into the
// app's log) with one app deployed whose web process is a tiny node:http
// server, and what the benchmarks read about it (its runtime, processes,
// access lines). Used by bench/router-throughput.ts and bench/router-https.ts.
// BENCH_RUNTIME=process|sandbox picks the runtime (default: the server's own).

import fs from 'node:fs';
import path from 'node:path';
import { routerGet, type Slipway, startSlipway } from '../test/helpers/slipway.ts';
import { appArchive, deploy } from './deploy-archive.ts';
import { descendants } from './process-cpu.ts';
import type { Backend } from './router-peers.ts';

const RUNTIME = process.env.BENCH_RUNTIME;
export const APP = 'bench';
export const HOST = `${APP}.localhost`;
const ADDRESS_PATH = '/__bench/address';

// The app's web process: 'ok' as text/plain, like bench/lib.ts's backend. On ADDRESS_PATH it says
// where the router reaches it: in a sandbox container of its own network namespace (its hostname
// is its container's name), the address of its eth0 on the home's bridge (where the namespace
// hands connections to its loopback, so the socket's local address says 127.0.0.1); with the
// process runtime, the address the request came in on. The peers are pointed there, so that
// every target proxies to the very same process.
const SERVER = `const http = require('node:http');
const os = require('node:os');
const server = http.createServer((req, res) => {
  if (req.url === '${ADDRESS_PATH}') {
    const own = os.hostname() === process.env.CONTAINER
      ? (os.networkInterfaces().eth0 ?? []).find((a) => a.family === 'IPv4')
      : undefined;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ host: own ? own.address : req.socket.localAddress, port: req.socket.localPort }));
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end('ok');
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT));
`;

export interface Server {
  readonly slipway: Slipway;
  readonly runtime: string;
  readonly backend: Backend;
}

/**
 * A `slipway server` (`extra`: more of its options) with the app deployed; resolves once the app
 * answers through its router.
 */
export async function startServer(router: 'builtin' | 'nginx', extra: readonly string[] = []): Promise<Server> {
  const args = [
    ...(router === 'nginx' ? ['--router', 'nginx'] : []),
    ...(RUNTIME ? ['--runtime', RUNTIME] : []),
    ...extra,
  ];
  // Log level info is the default a user has; the test helper's own default is warn.
  const slipway = await startSlipway({ args, env: { SLIPWAY_LOG_LEVEL: 'info' } });
  try {
    await slipway.api('POST', '/api/apps', { name: APP });
    const status = await deploy(slipway.apiUrl, APP, await appArchive('true', SERVER));
    if (status !== 'success') throw new Error(`deployment on the ${router} server: ${status}`);
    const res = await routerGet(slipway.routerPort, HOST, ADDRESS_PATH);
    if (res.status !== 200) throw new Error(`${router} server: ${ADDRESS_PATH} answered ${res.status}`);
    const where = JSON.parse(res.body) as { host: string; port: number };
    return {
      slipway,
      runtime: runtimeOf(slipway),
      backend: { host: where.host.replace(/^::ffff:/, ''), port: where.port },
    };
  } catch (err) {
    await slipway.stop();
    throw err;
  }
}

/** The runtime the server picked, from its start-up log line (`"runtime":"sandbox"`). */
function runtimeOf(slipway: Slipway): string {
  for (const line of slipway.serverOutput) {
    const match = /"runtime":"(\w+)"/.exec(line);
    if (match?.[1]) return match[1];
  }
  return 'unknown';
}

/** The server process and its router worker processes (none by default). */
export const serverPids = (s: Server) => [
  s.slipway.pid ?? 0,
  ...descendants(s.slipway.pid ?? 0, (_comm, cmd) => cmd.includes('router-worker')),
];
/** The app's web process: the node running server.js, wherever the runtime put it. */
export const backendPids = (s: Server) =>
  descendants(s.slipway.pid ?? 0, (comm, cmd) => comm === 'node' && cmd.includes('server.js'));

/** How the server process runs: the compiled bundle (what `npm start` runs) or the sources through tsx. */
export function startedFrom(s: Server): string {
  const cmd = fs.readFileSync(`/proc/${s.slipway.pid}/cmdline`, 'utf8');
  return cmd.includes('/dist/cli/')
    ? 'compiled dist/'
    : 'TypeScript sources through tsx (dist/ absent or older than src/)';
}

/** Whether the built-in router's access lines reached the app's log, and any lines it dropped. */
export function accessLog(s: Server): string {
  const dir = path.join(s.slipway.home, 'logs', 'apps', APP);
  const text = ['app.log.1', 'app.log']
    .map((f) => path.join(dir, f))
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('');
  const lines = text.match(/ router: method=GET path=\/ status=200 /g)?.length ?? 0;
  const dropped = [...text.matchAll(/(\d+) log lines dropped/g)].reduce((n, m) => n + Number(m[1]), 0);
  return `${lines} access lines in the app log's files at the end (it keeps the last 10 MiB), ${dropped} reported dropped`;
}
