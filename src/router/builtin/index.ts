// The built-in router: a node:http reverse proxy implementing the Router seam.
// This module owns the server's lifecycle and the route set; each setRoute /
// removeRoute rebuilds the whole hostname table and swaps one reference.

import http from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { assertValidRoute } from '../check-route.ts';
import type { AppRoute, Backend, Router } from '../types.ts';
import { BackendPool } from './backend-pool.ts';
import { renderErrorPages } from './error-pages.ts';
import { proxyUpgrade } from './forward-upgrade.ts';
import type { AccessHook, ProxyContext } from './proxy-context.ts';
import { ProxyResponse, proxyRequest } from './proxy-request.ts';
import { buildRouteTable } from './route-table.ts';

export type { AccessEntry, AccessHook } from './proxy-context.ts';

export interface BuiltinRouterOptions {
  readonly host: string;
  /** 0 picks a free port; `router.address.port` then tells which. */
  readonly port: number;
  /** App hostnames are `<app>.<domain>`; only used to hint at that on the 404 page. */
  readonly domain: string;
  readonly logger?: Logger;
  /** Called once per finished request or upgrade. */
  readonly onAccess?: AccessHook;
  /** Idle time allowed on a backend connection (waiting for headers, or mid-body). Default 60 s. */
  readonly upstreamTimeoutMs?: number;
  /** Concurrent connections per backend container; more requests queue. Default 256. */
  readonly maxSocketsPerBackend?: number;
  /** Idle keep-alive connections are closed after this long. Default 4 s. */
  readonly idleSocketMs?: number;
}

export async function startBuiltinRouter(options: BuiltinRouterOptions): Promise<Router> {
  const logger = options.logger;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60_000;
  const pool = new BackendPool({
    maxSockets: options.maxSocketsPerBackend ?? 256,
    idleSocketMs: options.idleSocketMs ?? 4_000,
    upstreamTimeoutMs,
  });
  const ctx: ProxyContext = {
    table: new Map(),
    pool,
    pages: renderErrorPages(options.domain),
    upstreamTimeoutMs,
    forwardedPort: String(options.port),
    logger,
    onAccess: options.onAccess,
    tunnelSockets: new Set(),
  };
  const server = http.createServer({
    ServerResponse: ProxyResponse,
    // Long uploads are bounded by the upstream idle timeout instead of a
    // total deadline; headersTimeout still guards against slow headers.
    requestTimeout: 0,
  });
  server.on('request', (req: http.IncomingMessage, res: ProxyResponse) => proxyRequest(ctx, req, res));
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) =>
    proxyUpgrade(ctx, req, socket, head),
  );
  await listen(server, options.port, options.host);
  const bound = server.address() as AddressInfo;
  ctx.forwardedPort = String(bound.port);
  logger?.debug({ host: bound.address, port: bound.port }, 'router listening');

  // Insertion order matters: on a hostname conflict the latest setRoute wins.
  const routes = new Map<string, AppRoute>();
  const rebuild = (changedApp: string): void => {
    const live = new Set<string>();
    const { table, conflicts } = buildRouteTable(
      routes,
      (_app, route) =>
        route.backends.map((backend) => {
          live.add(backend.id);
          return pool.acquire(backend);
        }),
      ctx.table,
    );
    ctx.table = table;
    pool.retireAllExcept(live);
    for (const conflict of conflicts) {
      if (conflict.app === changedApp) logger?.warn(conflict, 'hostname claimed by two apps; the latest route wins');
    }
  };

  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    setRoute(app: string, route: AppRoute): void {
      assertValidRoute(app, route);
      // Copied so later mutation by the caller cannot change a live table.
      const copy: AppRoute = { hostnames: [...route.hostnames], backends: route.backends.map(copyBackend) };
      routes.delete(app);
      routes.set(app, copy);
      rebuild(app);
    },
    removeRoute(app: string): void {
      if (routes.delete(app)) rebuild(app);
    },
    drain(backendIds: readonly string[], timeoutMs: number): Promise<void> {
      return pool.drain(backendIds, timeoutMs);
    },
    close(): Promise<void> {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of ctx.tunnelSockets) socket.destroy();
        pool.close();
      });
      return closing;
    },
  };
}

function copyBackend(backend: Backend): Backend {
  return { id: backend.id, host: backend.host, port: backend.port };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}
