// Test harness: a real `slipway server` process on random ports in a temp
// home, the real CLI (in process through runCli, or bin/slipway as a
// subprocess), and plain HTTP helpers for the API and the router.
// Everything it starts, it stops.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/main.ts';
import { type ProcessHandle, runProcess, spawnProcess } from '../../src/exec/index.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'slipway');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'apps');
export const TOKEN = 'test-admin-token-0123456789';

/** The environment the test's own subprocesses get: enough to run node, nothing else. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: os.tmpdir(),
    LANG: 'C.UTF-8',
    ...extra,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Slipway {
  readonly home: string;
  readonly apiUrl: string;
  readonly routerPort: number;
  /** The router's HTTPS port, when started with `--router-tls-port`. */
  readonly routerTlsPort: number | null;
  readonly serverOutput: string[];
  /**
   * The CLI: in the test's own process through `runCli` (the default), or with `spawn` as the
   * `bin/slipway` process a user runs.
   */
  cli(
    args: string[],
    options?: { cwd?: string; token?: string; env?: Record<string, string>; spawn?: boolean },
  ): Promise<CliResult>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read API JSON of many shapes
  api(method: string, urlPath: string, body?: unknown, token?: string | null): Promise<{ status: number; json: any }>;
  /** Stops the server (SIGTERM, then SIGKILL after 15 s); removes its home unless `keepHome`. */
  stop(options?: { keepHome?: boolean }): Promise<void>;
  /** SIGKILL, as a crash would: nothing of the server runs its shutdown. */
  kill(): Promise<void>;
  readonly pid: number | undefined;
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Reuse a data directory (e.g. to restart a stopped server). */
  home?: string;
  /** The server's working directory (default: its home). */
  cwd?: string;
}

export async function startSlipway(options: StartOptions = {}): Promise<Slipway> {
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
  const store = await storeEnv(home, options.env);
  const runtime = await runtimeArgs(home, options.args);
  const output: string[] = [];
  let resolveReady: (v: { api: string; router: number }) => void = () => {};
  const ready = new Promise<{ api: string; router: number }>((resolve) => {
    resolveReady = resolve;
  });
  let api = '';
  let routerTlsPort: number | null = null;
  const server: ProcessHandle = spawnProcess(
    [
      BIN,
      'server',
      '--home',
      home,
      '--port',
      '0',
      '--router-port',
      '0',
      '--boot-timeout',
      '5s',
      '--hook-timeout',
      '10s',
      ...runtime,
      ...(options.args ?? []),
    ],
    {
      cwd: options.cwd ?? home,
      env: baseEnv({
        SLIPWAY_TOKEN: TOKEN,
        SLIPWAY_STOP_GRACE: '2s',
        SLIPWAY_DRAIN_TIMEOUT: '5s',
        SLIPWAY_LOG_LEVEL: 'warn',
        ...store,
        ...options.env,
      }),
      onLine: (_stream, line) => {
        output.push(line);
        const apiMatch = /API and dashboard: (\S+)/.exec(line);
        if (apiMatch?.[1]) api = apiMatch[1];
        const tlsMatch = /HTTPS: +https:\/\/<app>\.[^:]+:(\d+)/.exec(line);
        if (tlsMatch?.[1]) routerTlsPort = Number(tlsMatch[1]);
        const routerMatch = /Router: +http:\/\/<app>\.[^:]+:(\d+)/.exec(line);
        if (routerMatch?.[1]) resolveReady({ api, router: Number(routerMatch[1]) });
      },
    },
  );
  const exitedEarly = server.exited.then((exit) => {
    throw new Error(`slipway server exited (${exit.code ?? exit.signal}):\n${output.join('\n')}`);
  });
  const timeout = new Promise<never>((_r, reject) =>
    setTimeout(() => reject(new Error(`slipway server did not start:\n${output.join('\n')}`)), 30_000).unref(),
  );
  const addresses = await Promise.race([ready, exitedEarly, timeout]);
  exitedEarly.catch(() => {});

  return {
    home,
    apiUrl: addresses.api,
    routerPort: addresses.router,
    routerTlsPort,
    serverOutput: output,
    async cli(args, opts = {}) {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const env = baseEnv({ SLIPWAY_URL: addresses.api, SLIPWAY_TOKEN: opts.token ?? TOKEN, HOME: home, ...opts.env });
      const cwd = opts.cwd ?? home;
      if (!opts.spawn) {
        // In process (runCli takes its IO as an argument): the same commands, without a node start each.
        const io = { out: (t: string) => stdout.push(t), err: (t: string) => stderr.push(t), env, cwd, color: false };
        const code = await runCli(args, io);
        return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
      }
      const result = await runProcess([BIN, ...args], {
        cwd,
        env,
        onLine: (stream, line) => (stream === 'stdout' ? stdout : stderr).push(line),
        timeoutMs: 120_000,
      });
      return { code: result.code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
    },
    async api(method, urlPath, body, token = TOKEN) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${addresses.api}${urlPath}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // plain text endpoints
      }
      return { status: res.status, json };
    },
    pid: server.pid,
    async stop(opts = {}) {
      await server.stop(15_000);
      if (!opts.keepHome) fs.rmSync(home, { recursive: true, force: true });
    },
    async kill() {
      await server.stop(0);
    },
  };
}

/**
 * With SLIPWAY_TEST_STORE=postgres, any suite runs on the PostgreSQL store:
 * one cluster per test file, stopped after its tests, a database per home (a
 * restart on the same home finds its own). Unset: SQLite in the home, as a
 * user gets by default.
 */
if (process.env.SLIPWAY_TEST_STORE === 'postgres') {
  after(async () => (await import('./postgres.ts')).stopSharedCluster());
}

/**
 * With SLIPWAY_TEST_RUNTIME=swarm (or docker), any suite's servers run their
 * containers on that runtime (unless a test picks one with `--runtime`):
 * dockerd, a one-node swarm (made when it is in none) and the stack image,
 * else the server fails at start saying what is missing. On swarm, each
 * home's release images are removed after the file's tests (docker's networks
 * of removed homes go at the next server's start). Unset: the server's default.
 */
export const TEST_RUNTIME = process.env.SLIPWAY_TEST_RUNTIME || undefined;
const swarmHomes: string[] = [];
if (TEST_RUNTIME === 'swarm') after(async () => (await import('./test-swarm.ts')).removeReleaseImages(swarmHomes));

async function runtimeArgs(home: string, args: string[] = []): Promise<string[]> {
  if (TEST_RUNTIME === undefined || args.includes('--runtime')) return [];
  if (TEST_RUNTIME === 'swarm') {
    const reason = await (await import('./test-swarm.ts')).swarmSkipReason();
    if (reason !== null) throw new Error(`SLIPWAY_TEST_RUNTIME=swarm: ${reason}`);
  }
  if (TEST_RUNTIME === 'swarm') swarmHomes.push(home);
  return ['--runtime', TEST_RUNTIME];
}

async function storeEnv(home: string, env: Record<string, string> = {}): Promise<Record<string, string>> {
  if (process.env.SLIPWAY_TEST_STORE !== 'postgres' || env.SLIPWAY_DATABASE_URL !== undefined) return {};
  const { sharedDatabaseFor } = await import('./postgres.ts');
  return { SLIPWAY_DATABASE_URL: await sharedDatabaseFor(home) };
}

/** A private copy of a fixture app, with files replaced or added. */
export function fixtureCopy(name: string, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-app-${name}-`));
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return dir;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** A request through the router (or to `address`: an app's own), with the app's hostname. */
export function routerGet(
  port: number,
  host: string,
  urlPath = '/',
  address = '127.0.0.1',
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address, port, path: urlPath, headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('router request timed out')));
  });
}

export interface LoadResult {
  total: number;
  failures: string[];
  bodies: Map<string, number>;
}

/**
 * A bounded request loop (`concurrency` workers) through the router that
 * runs until `until` settles and at least `minRequests` were made, stopping
 * anyway after `maxRequests` or `maxMs`.
 */
export async function loadLoop(options: {
  port: number;
  host: string;
  until: Promise<unknown>;
  minRequests?: number;
  maxRequests?: number;
  concurrency?: number;
  maxMs?: number;
}): Promise<LoadResult> {
  const { minRequests = 2000, maxRequests = 50_000, concurrency = 8, maxMs = 120_000 } = options;
  let done = false;
  options.until.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  const deadline = Date.now() + maxMs;
  const result: LoadResult = { total: 0, failures: [], bodies: new Map() };
  const worker = async () => {
    while ((!done || result.total < minRequests) && result.total < maxRequests && Date.now() < deadline) {
      result.total++;
      try {
        const res = await routerGet(options.port, options.host);
        if (res.status < 200 || res.status >= 300) result.failures.push(`${res.status} ${res.body.slice(0, 80)}`);
        const label = res.body.split(' ')[0] ?? '';
        result.bodies.set(label, (result.bodies.get(label) ?? 0) + 1);
      } catch (err) {
        result.failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}
