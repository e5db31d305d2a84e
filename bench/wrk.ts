// wrk (Debian's, a C load generator) as the router benchmark's client: one
// run against 127.0.0.1:port with a Host header, keep-alive, a fixed number
// of threads, connections and seconds. Its Lua `done` hook prints the figures
// as one JSON line, so nothing depends on the layout of wrk's text summary.
// Over HTTPS wrk sends the URL's host as SNI: `sni` puts a hostname in the URL
// and runs wrk in a private mount namespace whose /etc/hosts maps it to
// 127.0.0.1 (the host's own file is not touched).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inPrivateMounts, runProcess } from '../src/exec/index.ts';
import { baseEnv } from '../test/helpers/slipway.ts';

export interface WrkFigures {
  readonly rps: number;
  readonly requests: number;
  /** Latency percentiles in ms, as wrk measures them (no coordinated-omission correction at full load). */
  readonly p50: number;
  readonly p99: number;
  /** Socket errors (connect, read, write, timeout). */
  readonly errors: number;
  /** Answers with a status of 400 or more. */
  readonly non2xx: number;
}

export interface WrkLoad {
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
}

const MARK = 'WRK_JSON ';

// Latencies are in microseconds in wrk's Lua API; `summary.duration` too.
const DONE_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
`;

let tempDir: string | undefined;

/** A file in a temp dir made once per process and removed at exit. */
function tempFile(name: string, content: string): string {
  if (tempDir === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-wrk-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    tempDir = dir;
  }
  const file = path.join(tempDir, name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, content);
  return file;
}

/** Binds $1 over /etc/hosts in the namespace, then runs the rest. */
const HOSTS_SCRIPT = 'mount --bind "$1" /etc/hosts || exit 1; shift; exec "$@"';

/** wrk's command line as is, or in a mount namespace where `sni` resolves to 127.0.0.1. */
function withHosts(argv: string[], sni: string | undefined): string[] {
  if (sni === undefined) return argv;
  const hosts = tempFile(`hosts-${sni}`, `127.0.0.1 localhost\n127.0.0.1 ${sni}\n`);
  return [...inPrivateMounts(HOSTS_SCRIPT, 'slipway-bench-wrk'), hosts, ...argv];
}

export async function wrk(
  options: WrkLoad & {
    port: number;
    host: string;
    address?: string;
    https?: boolean;
    headers?: readonly string[];
    /** A hostname for the URL (so wrk's SNI over HTTPS), resolved to 127.0.0.1 for wrk alone. */
    sni?: string;
  },
): Promise<WrkFigures> {
  const argv = [
    'wrk',
    '-t',
    String(options.threads),
    '-c',
    String(options.connections),
    '-d',
    `${options.seconds}s`,
    '--timeout',
    '5s',
    '-H',
    `Host: ${options.host}`,
    ...(options.headers ?? []).flatMap((header) => ['-H', header]),
    '-s',
    tempFile('done.lua', DONE_SCRIPT),
    `${options.https ? 'https' : 'http'}://${options.sni ?? options.address ?? '127.0.0.1'}:${options.port}/`,
  ];
  const out: string[] = [];
  const result = await runProcess(withHosts(argv, options.sni), {
    env: baseEnv(),
    onLine: (_stream, line) => out.push(line),
    timeoutMs: (options.seconds + 30) * 1000,
  });
  const json = out.find((line) => line.startsWith(MARK));
  if (result.code !== 0 || json === undefined) {
    throw new Error(`wrk exited with ${result.code ?? result.signal}:\n${out.join('\n')}`);
  }
  const f = JSON.parse(json.slice(MARK.length));
  return {
    rps: f.requests / (f.duration_us / 1e6),
    requests: f.requests,
    p50: f.p50_us / 1000,
    p99: f.p99_us / 1000,
    errors: f.connect + f.read + f.write + f.timeout,
    non2xx: f.status,
  };
}

/** `wrk 4.1.0` (wrk -v prints its version and exits non-zero). */
export async function wrkVersion(): Promise<string> {
  let first: string | undefined;
  await runProcess(['wrk', '-v'], {
    env: baseEnv(),
    onLine: (_s, line) => {
      first ??= line;
    },
    timeoutMs: 10_000,
  });
  return /^wrk (\S+)/.exec(first ?? '')?.[1]?.replace(/^debian\//, '') ?? 'unknown';
}
