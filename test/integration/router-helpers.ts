// Shared pieces of the router tests: tiny node:http backends on 127.0.0.1, a
// one-call HTTP client, and a router of either driver started per test.
// Every helper registers its own cleanup on the test context.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { type BuiltinRouterOptions, startBuiltinRouter } from '../../src/router/builtin/index.ts';
import { startNginxRouter } from '../../src/router/nginx/index.ts';
import type { Backend, Router } from '../../src/router/types.ts';

export interface TestBackend {
  readonly backend: Backend;
  readonly server: http.Server;
  /** TCP connections accepted so far. */
  connections: number;
  /** Connections currently open, upgraded ones included. */
  readonly open: Set<Socket>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, self: TestBackend) => void;

/** Answers with JSON describing the request, tagged with the backend id. */
export const describeRequest: Handler = (req, res, self) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: self.backend.id, method: req.method, url: req.url, headers: req.headers }));
  });
};

export async function startBackend(
  t: TestContext,
  id: string,
  handler: Handler = describeRequest,
): Promise<TestBackend> {
  const server = http.createServer();
  const self: TestBackend = { backend: { id, host: '127.0.0.1', port: 0 }, server, connections: 0, open: new Set() };
  server.on('request', (req, res) => handler(req, res, self));
  server.on('connection', (socket: Socket) => {
    self.connections++;
    self.open.add(socket);
    socket.on('close', () => self.open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (self as { backend: Backend }).backend = { id, host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  t.after(() => {
    // Upgraded sockets are not closed by closeAllConnections().
    for (const socket of self.open) socket.destroy();
    return closeServer(server);
  });
  return self;
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export { deadPort } from '../helpers/local-http.ts';

/** The router drivers; `builtin-workers` is the built-in router with one router worker process besides the test's. */
export type Driver = 'builtin' | 'builtin-workers' | 'nginx';

/** Why the nginx suites are skipped here (CI installs nginx, so they always run there), or false. */
export const NGINX_SKIP: string | false = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].some((f) =>
  fs.existsSync(f),
)
  ? false
  : 'nginx is not installed (apt-get install nginx)';

/**
 * A router on 127.0.0.1 and a free port. nginx runs one worker so that
 * round-robin and connection counts are as deterministic as the built-in's.
 */
export async function startRouter(
  t: TestContext,
  driver: Driver = 'builtin',
  options: Partial<BuiltinRouterOptions> = {},
): Promise<Router> {
  const base = { host: '127.0.0.1', port: 0, domain: 'localhost', ...options };
  if (driver === 'builtin' || driver === 'builtin-workers') {
    const router = await startBuiltinRouter({ ...base, workers: driver === 'builtin' ? 1 : 2 });
    t.after(() => router.close());
    return router;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-nginx-'));
  const router = await startNginxRouter({ ...base, dir, workers: 1, shutdownTimeoutMs: 10_000 });
  t.after(async () => {
    await router.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return router;
}

/** Waits until the router serves every route change made so far (nginx reloads asynchronously). */
export async function settle(router: Router): Promise<void> {
  await router.settled?.();
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RequestOptions {
  readonly host: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | string;
  /** Defaults to a one-shot connection. */
  readonly agent?: http.Agent;
  /** Wait for earlier route changes to be live first (default true). */
  readonly settle?: boolean;
}

/** One request through the router, sent once every earlier route change is live. */
export async function request(router: Router, options: RequestOptions): Promise<Reply> {
  if (options.settle !== false) await settle(router);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: router.address.port,
      method: options.method ?? 'GET',
      path: options.path ?? '/',
      headers: { ...options.headers, host: options.host },
      agent: options.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.end(options.body);
  });
}

export async function requestJson(router: Router, options: RequestOptions): Promise<Record<string, unknown>> {
  const reply = await request(router, options);
  if (reply.status !== 200) throw new Error(`expected 200, got ${reply.status}: ${reply.body.toString()}`);
  return JSON.parse(reply.body.toString()) as Record<string, unknown>;
}

export interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

/** A promise to resolve from elsewhere, e.g. when a request reaches a backend. */
export function deferred(): Deferred {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface SlowBackend extends TestBackend {
  /** Resolves when the first request reaches the backend. */
  readonly arrived: Promise<void>;
  /** When the backend finished answering (Date.now()), or 0 while it has not. */
  finishedAt(): number;
}

/** A backend that answers `done` `delayMs` after each request arrives: a request in flight to drain. */
export async function startSlowBackend(t: TestContext, id: string, delayMs: number): Promise<SlowBackend> {
  let finishedAt = 0;
  const arrived = deferred();
  const backend = await startBackend(t, id, (_req, res) => {
    arrived.resolve();
    setTimeout(() => {
      finishedAt = Date.now();
      res.end('done');
    }, delayMs);
  });
  return Object.assign(backend, { arrived: arrived.promise, finishedAt: () => finishedAt });
}
