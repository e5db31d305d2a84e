// Shared pieces of the benchmarks: percentiles, a backend process, and
// autocannon run as its own process (JSON result) so the load generator
// never shares an event loop with what it measures.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ProcessHandle, runProcess, spawnProcess } from '../src/exec/index.ts';
import { baseEnv } from '../test/helpers/slipway.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AUTOCANNON = path.join(ROOT, 'node_modules', '.bin', 'autocannon');

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

export interface LoadFigures {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

/** autocannon against 127.0.0.1:port with a Host header; `rate` caps the overall requests/s. */
export async function autocannon(options: {
  port: number;
  host: string;
  seconds: number;
  connections: number;
  rate?: number;
}): Promise<LoadFigures> {
  const argv = [
    AUTOCANNON,
    '-j',
    '-c',
    String(options.connections),
    '-d',
    String(options.seconds),
    '-H',
    `host=${options.host}`,
    ...(options.rate === undefined ? [] : ['-R', String(options.rate)]),
    `http://127.0.0.1:${options.port}/`,
  ];
  const out: string[] = [];
  const result = await runProcess(argv, {
    env: baseEnv(),
    onLine: (stream, line) => {
      if (stream === 'stdout') out.push(line);
    },
    timeoutMs: (options.seconds + 30) * 1000,
  });
  if (result.code !== 0) throw new Error(`autocannon exited with ${result.code ?? result.signal}`);
  const json = JSON.parse(out.join('\n'));
  return {
    rps: json.requests.average,
    p50: json.latency.p50,
    p99: json.latency.p99,
    requests: json.requests.total,
    errors: json.errors,
    timeouts: json.timeouts,
    non2xx: json.non2xx,
  };
}

/** A minimal keep-alive HTTP backend in its own Node.js process; resolves with its port. */
export async function startBackendProcess(body = 'ok'): Promise<{ port: number; handle: ProcessHandle }> {
  const code =
    "const s=require('node:http').createServer((q,r)=>{r.setHeader('content-type','text/plain');r.end(process.env.BODY)});" +
    "s.keepAliveTimeout=65000;s.listen(0,'127.0.0.1',()=>console.log(s.address().port));";
  let resolvePort: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  const handle = spawnProcess([process.execPath, '-e', code], {
    env: baseEnv({ BODY: body }),
    onLine: (_stream, line) => resolvePort(Number(line)),
  });
  return { port: await port, handle };
}
