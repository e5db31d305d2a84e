// The router benchmark's peers: nginx, HAProxy and Caddy as their users would
// put them in front of one app, each configured here in a temp dir, listening
// on a loopback port, routing by Host to one backend with keep-alive
// connections to it, an access log on and X-Forwarded-For/-Proto/-Host sent.
// Every peer is a process started through src/exec and stopped by `stop()`,
// which also removes its dir. Fairness notes are in BENCHMARKS.md.

import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HELPER_ENV, type ProcessHandle, runProcess, spawnProcess } from '../src/exec/index.ts';
import { routerGet } from '../test/helpers/slipway.ts';

export interface Backend {
  readonly host: string;
  readonly port: number;
}

export interface Peer {
  readonly name: string;
  readonly port: number;
  /** The process the peer was started as (nginx's master, whose workers are its children). */
  readonly pid: number;
  /** Lines in its access log file so far, proof that it logs (undefined: it writes no file). */
  accessLogLines(): number | undefined;
  stop(): Promise<void>;
}

export interface PeerOptions {
  readonly backend: Backend;
  /** The hostname routed to the backend; anything else answers 404. */
  readonly hostname: string;
}

/** A TCP port free on loopback now (the peer binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A UDP port nothing listens on: HAProxy's log lines sent there are dropped by the kernel. */
async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

const hostPort = (b: Backend) => (b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`);

/** Starts a peer's process and waits until it answers 200 for the hostname. */
async function startPeer(
  name: string,
  argv: string[],
  port: number,
  dir: string,
  options: PeerOptions,
  extra: { env?: Record<string, string>; accessLog?: string } = {},
): Promise<Peer> {
  const output: string[] = [];
  const handle: ProcessHandle = spawnProcess(argv, {
    cwd: dir,
    env: { ...HELPER_ENV, ...extra.env },
    onLine: (_s, line) => {
      if (output.length < 200) output.push(line);
    },
  });
  const stop = async () => {
    await handle.stop(3000);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  let exited = false;
  handle.exited.then(() => {
    exited = true;
  });
  for (;;) {
    const res = await routerGet(port, options.hostname).catch(() => null);
    if (res?.status === 200) break;
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not start serving (${res?.status ?? 'no answer'}):\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const accessLogLines = () => {
    const file = extra.accessLog;
    if (file === undefined) return undefined;
    if (!fs.existsSync(file)) return 0;
    let lines = 0;
    const buf = fs.readFileSync(file);
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
    return lines;
  };
  return { name, port, pid: handle.pid ?? 0, accessLogLines, stop };
}

const tempDir = (name: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-bench-${name}-`));
  fs.chmodSync(dir, 0o755); // nginx's workers run as nobody
  return dir;
};

/**
 * nginx: one worker per core, `proxy_pass` to an `upstream` with 64 idle
 * keep-alive connections, the default `combined` access log written to a file
 * (unbuffered, nginx's default), no cap on requests per connection either side.
 */
/** An nginx configuration up to its `http {` block's servers: foreground, files under `dir`. */
export function nginxHead(dir: string, workers: string, accessLog: string): string[] {
  return [
    'daemon off;',
    `worker_processes ${workers};`,
    `pid ${dir}/nginx.pid;`,
    'error_log stderr warn;',
    'events { worker_connections 8192; }',
    'http {',
    `  access_log ${accessLog};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (t) => `  ${t}_temp_path ${dir}/${t.replace('client_', '')};`,
    ),
    '  keepalive_requests 100000;',
  ];
}

/** nginx's `location /` proxying to the keep-alive upstream `app`, as usually set up; then the server and http blocks end. */
export const NGINX_PROXY_TAIL = [
  '    location / {',
  '      proxy_pass http://app;',
  '      proxy_http_version 1.1;',
  '      proxy_set_header Connection "";',
  '      proxy_set_header Host $host;',
  '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
  '      proxy_set_header X-Forwarded-Proto $scheme;',
  '      proxy_set_header X-Forwarded-Host $host;',
  '    }',
  '  }',
  '}',
  '',
];

export async function startNginx(options: PeerOptions): Promise<Peer> {
  const dir = tempDir('nginx');
  const port = await freePort();
  const config = [
    ...nginxHead(dir, 'auto', `${dir}/access.log combined`),
    `  upstream app {\n    server ${hostPort(options.backend)};\n    keepalive 64;\n    keepalive_requests 100000;\n  }`,
    `  server {\n    listen 127.0.0.1:${port} default_server;\n    return 404;\n  }`,
    `  server {\n    listen 127.0.0.1:${port};\n    server_name ${options.hostname};`,
    ...NGINX_PROXY_TAIL,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), config);
  const argv = ['nginx', '-p', `${dir}/`, '-e', 'stderr', '-c', `${dir}/nginx.conf`];
  return startPeer('nginx', argv, port, dir, options, { accessLog: `${dir}/access.log` });
}

/**
 * HAProxy: http mode, its default thread count (one per core) and server
 * connection reuse (`http-reuse safe`, keep-alive), `option httplog` lines
 * sent to a UDP port nothing listens on (HAProxy writes no files: it formats
 * and sends every line, as to a syslog daemon, and the kernel drops it).
 */
export async function startHaproxy(options: PeerOptions): Promise<Peer> {
  const dir = tempDir('haproxy');
  const [port, logPort] = [await freePort(), await freeUdpPort()];
  const config = [
    'global',
    '  maxconn 4096',
    `  log 127.0.0.1:${logPort} len 2048 local0`,
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  option forwardfor',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 60s',
    'frontend web',
    `  bind 127.0.0.1:${port}`,
    '  http-request set-header X-Forwarded-Proto http',
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
    `  http-request return status 404 unless { hdr(host) -i ${options.hostname} }`,
    '  default_backend app',
    'backend app',
    `  server web-1 ${hostPort(options.backend)}`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'haproxy.cfg'), config);
  return startPeer('HAProxy', ['haproxy', '-db', '-f', `${dir}/haproxy.cfg`], port, dir, options);
}

/**
 * Caddy: `reverse_proxy` (keep-alive to the backend is its default; 64 idle
 * connections kept, as nginx's, instead of its default 32), its access log
 * (JSON) written to a file, admin endpoint and automatic HTTPS off.
 * `reverse_proxy` sends X-Forwarded-* itself.
 */
export async function startCaddy(options: PeerOptions): Promise<Peer> {
  const dir = tempDir('caddy');
  const port = await freePort();
  const config = [
    '{',
    '  admin off',
    '  auto_https off',
    // The port goes here, not in the site address: Caddy 2.6 keys its access logger by the site's
    // host as written, so `host:port` would not match the `Host` wrk sends and the lines would go
    // to its default log (stderr) instead of the file.
    `  http_port ${port}`,
    '}',
    `http://${options.hostname} {`,
    '  bind 127.0.0.1',
    `  log {\n    output file ${dir}/access.log\n  }`,
    `  reverse_proxy ${hostPort(options.backend)} {`,
    '    transport http {\n      keepalive_idle_conns_per_host 64\n    }',
    '  }',
    '}',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'Caddyfile'), config);
  const env = { HOME: dir, XDG_DATA_HOME: `${dir}/data`, XDG_CONFIG_HOME: `${dir}/config` };
  const argv = ['caddy', 'run', '--adapter', 'caddyfile', '--config', `${dir}/Caddyfile`];
  return startPeer('Caddy', argv, port, dir, options, { env, accessLog: `${dir}/access.log` });
}

/** The first line a command prints (stdout or stderr) that matches `pattern`, for the versions line. */
async function versionOf(argv: string[], pattern: RegExp): Promise<string> {
  let version: string | undefined;
  await runProcess(argv, {
    env: { ...HELPER_ENV },
    onLine: (_s, text) => {
      version ??= pattern.exec(text)?.[1];
    },
    timeoutMs: 10_000,
  }).catch(() => undefined);
  return version ?? 'unknown';
}

/** `nginx 1.22.1, HAProxy 2.6.12, Caddy 2.6.2`, from the installed binaries. */
export async function peerVersions(): Promise<string> {
  const nginx = await versionOf(['nginx', '-v'], /nginx\/(\S+)/);
  const haproxy = await versionOf(['haproxy', '-v'], /HAProxy version (\S+)/);
  const caddy = await versionOf(['caddy', 'version'], /^v?(\d\S*)/);
  return `nginx ${nginx}, HAProxy ${haproxy}, Caddy ${caddy}`;
}
