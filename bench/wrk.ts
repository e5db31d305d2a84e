// wrk (Debian's, a C load generator) as the router benchmark's client: one
// run against 127.0.0.1:port with a Host header, keep-alive, a fixed number
// of threads, connections and seconds. Its Lua `done` hook prints the figures
// as one JSON line, so nothing depends on the layout of wrk's text summary.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProcess } from '../src/exec/index.ts';
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

let scriptPath: string | undefined;

/** The Lua script, written once per process to a temp dir removed at exit. */
function doneScript(): string {
  if (scriptPath !== undefined) return scriptPath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-wrk-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  scriptPath = path.join(dir, 'done.lua');
  fs.writeFileSync(scriptPath, DONE_SCRIPT);
  return scriptPath;
}

export async function wrk(
  options: WrkLoad & { port: number; host: string; address?: string; https?: boolean; headers?: readonly string[] },
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
    doneScript(),
    `${options.https ? 'https' : 'http'}://${options.address ?? '127.0.0.1'}:${options.port}/`,
  ];
  const out: string[] = [];
  const result = await runProcess(argv, {
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
