// One process's share of the built-in router: the node:http server with its
// request and upgrade handlers, the backend pools and the route set. The
// server process and every router worker process each run one; they differ
// only in how the listening socket reaches them and where routes come from.

import http from 'node:http';
import https from 'node:https';
import type { Server, Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  defaultRouterConnections,
  headerDeadline,
  limitConnections,
} from '../connection-budget.ts';
import { renderErrorPages } from '../error-pages.ts';
import type { AppRoute, TlsCertificate } from '../types.ts';
import { alpnChallenges } from './acme-alpn.ts';
import { buildCertificateSet, EMPTY_CERTIFICATES, TLS12_CIPHERS } from './certificate-set.ts';
import { proxyUpgrade } from './forward-upgrade.ts';
import type { AccessHook, ProxyContext, RouterLog } from './proxy-context.ts';
import { ProxyResponse, proxyRequest } from './proxy-request.ts';
import { buildRouteTable } from './route-table.ts';
import { BackendPool } from './upstream/backend-pool.ts';

export interface ProxyServerOptions {
  /** App hostnames are `<app>.<domain>`; only used to hint at that on the 404 page. */
  readonly domain: string;
  readonly logger?: RouterLog | undefined;
  /** Called once per finished request or upgrade. */
  readonly onAccess?: AccessHook | undefined;
  /** Idle time allowed on a backend connection (waiting for headers, or mid-body). Default 60 s. */
  readonly upstreamTimeoutMs?: number | undefined;
  /** How long connecting to a backend may take before the request moves to another one. Default 5 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Concurrent connections per backend container; more requests queue. Default 256. */
  readonly maxSocketsPerBackend?: number | undefined;
  /** Idle keep-alive connections are closed after this long. Default 4 s. */
  readonly idleSocketMs?: number | undefined;
  /** Client connections this process accepts at once; more are closed at once. Default: from the open-files limit. */
  readonly maxConnections?: number | undefined;
  /** Time a client has to send a request's headers. Default 30 s. */
  readonly headersTimeoutMs?: number | undefined;
  /** Whether to make an HTTPS server too (`tlsServer`), serving the certificates of setCertificates. */
  readonly tls?: boolean | undefined;
}

export interface ProxyServer {
  readonly server: Server;
  /** The HTTPS server (TLS 1.2+, HTTP/1.1), when `tls` was asked for. */
  readonly tlsServer: https.Server<typeof http.IncomingMessage, typeof ProxyResponse> | null;
  /** Installs or replaces one app's route (already validated and copied). */
  setRoute(app: string, route: AppRoute): void;
  /** False when the app had no route. */
  removeRoute(app: string): boolean;
  /** Every route, oldest-installed first: the order that settles hostname conflicts. */
  routes(): IterableIterator<[string, AppRoute]>;
  /** The listening ports, for X-Forwarded-Port and redirects to HTTPS; set once listening. */
  setForwardedPort(port: number, tlsPort?: number): void;
  /** Replaces the certificate set (throws, changing nothing, when one cannot be loaded). */
  setCertificates(certificates: readonly TlsCertificate[]): void;
  setChallenge(token: string, keyAuthorization: string | null): void;
  /** An ACME tls-alpn-01 certificate for `hostname` (null: none), served to `acme-tls/1` handshakes. */
  setAlpnChallenge(hostname: string, certificate: Pick<TlsCertificate, 'cert' | 'key'> | null): void;
  drain(backendIds: readonly string[], timeoutMs: number): Promise<void>;
  /** Stops accepting, cuts open connections and tunnels, destroys the pools. */
  close(): Promise<void>;
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const logger = options.logger;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const pool = new BackendPool({
    maxSockets: options.maxSocketsPerBackend ?? 256,
    idleSocketMs: options.idleSocketMs ?? 4_000,
    upstreamTimeoutMs,
    connectTimeoutMs,
  });
  const ctx: ProxyContext = {
    table: new Map(),
    pool,
    pages: renderErrorPages(options.domain),
    upstreamTimeoutMs,
    connectTimeoutMs,
    forwardedPort: '0',
    tlsPort: null,
    certificates: EMPTY_CERTIFICATES,
    challenges: new Map(),
    logger,
    onAccess: options.onAccess,
    tunnelSockets: new Set(),
  };
  const server = http.createServer({
    ServerResponse: ProxyResponse,
    // Long uploads are bounded by the upstream idle timeout instead of a
    // total deadline; headersTimeout guards against slow (or no) headers.
    requestTimeout: 0,
    ...headerDeadline(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS),
  });
  const alpn = alpnChallenges();
  const tlsServer =
    options.tls === true
      ? https.createServer({
          ServerResponse: ProxyResponse,
          requestTimeout: 0,
          ...headerDeadline(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS),
          minVersion: 'TLSv1.2',
          ciphers: TLS12_CIPHERS,
          honorCipherOrder: true,
          // HTTP/1.1 only (the data path, raw header arrays and upgrade tunnels, is HTTP/1.1's), and
          // ACME's acme-tls/1 while a challenge is pending (docs/https.md).
          ...alpn.callbacks((servername) => ctx.certificates.lookup(servername)),
        })
      : null;
  tlsServer?.on('secureConnection', (socket: TLSSocket) => alpn.endIfChallenge(socket));
  for (const [listener, name] of [
    [server, 'router'],
    [tlsServer, 'router-https'],
  ] as const) {
    if (listener === null) continue;
    limitConnections(listener, { max: options.maxConnections ?? defaultRouterConnections(), name, log: logger });
    listener.on('request', (req: http.IncomingMessage, res: ProxyResponse) => proxyRequest(ctx, req, res));
    listener.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) =>
      proxyUpgrade(ctx, req, socket, head),
    );
  }
  const contexts = new Map<string, SecureContext>();

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
    server,
    tlsServer,
    setRoute(app, route) {
      routes.delete(app);
      routes.set(app, route);
      rebuild(app);
    },
    removeRoute(app) {
      if (!routes.delete(app)) return false;
      rebuild(app);
      return true;
    },
    routes: () => routes.entries(),
    setForwardedPort(port, tlsPort) {
      ctx.forwardedPort = String(port);
      ctx.tlsPort = tlsPort === undefined ? null : String(tlsPort);
    },
    setCertificates(certificates) {
      ctx.certificates = buildCertificateSet(certificates, contexts);
    },
    setChallenge(token, keyAuthorization) {
      if (keyAuthorization === null) ctx.challenges.delete(token);
      else ctx.challenges.set(token, keyAuthorization);
    },
    setAlpnChallenge: (hostname, certificate) => alpn.set(hostname, certificate),
    drain: (backendIds, timeoutMs) => pool.drain(backendIds, timeoutMs),
    close() {
      closing ??= new Promise((resolve) => {
        let open = tlsServer === null ? 1 : 2;
        const closed = () => --open === 0 && resolve();
        server.close(closed);
        server.closeAllConnections();
        tlsServer?.close(closed);
        tlsServer?.closeAllConnections();
        for (const socket of ctx.tunnelSockets) socket.destroy();
        pool.close();
      });
      return closing;
    },
  };
}

/** `server.listen(...)` as a promise; `target` is a port and host, or a listening handle from the server process. */
export function listen(server: Server, target: { port: number; host: string } | { handle: Server }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    const done = () => {
      server.removeListener('error', onError);
      resolve();
    };
    if ('handle' in target) server.listen(target.handle, done);
    else server.listen(target.port, target.host, done);
  });
}
