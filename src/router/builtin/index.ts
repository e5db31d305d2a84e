// The built-in router: a node:http reverse proxy implementing the Router seam.
// This module owns the listening socket and the route set. The server process
// serves router traffic itself and, with `workers` above 1, forks router
// worker processes that accept on the same socket (router-workers.ts); every
// route change then reaches them too, and settled() waits for that.

import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { assertValidRoute } from '../check-route.ts';
import type { AppRoute, Backend, Router, TlsCertificate } from '../types.ts';
import { createProxyServer, listen, type ProxyServerOptions } from './proxy-server.ts';
import { type RouterWorkers, startRouterWorkers } from './workers/router-workers.ts';

export type { AccessEntry, AccessHook } from './proxy-context.ts';

export interface BuiltinRouterOptions extends ProxyServerOptions {
  readonly host: string;
  /** 0 picks a free port; `router.address.port` then tells which. */
  readonly port: number;
  /**
   * The HTTPS listener's port (0: a free one), on the same host; none when
   * undefined. Router worker processes serve it too.
   */
  readonly tlsPort?: number | undefined;
  readonly logger?: Logger;
  /**
   * Processes serving router traffic, this one included (default 1): above
   * 1, `workers - 1` router worker processes accept on the same socket.
   */
  readonly workers?: number;
  /** First restart delay of a router worker that died (doubles while it keeps dying). Default 100 ms. */
  readonly workerRestartBackoffMs?: number;
}

export interface BuiltinRouter extends Router {
  settled(): Promise<void>;
  setCertificates(certificates: readonly TlsCertificate[]): void;
  setChallenge(token: string, keyAuthorization: string | null): void;
  setAlpnChallenge(hostname: string, certificate: Pick<TlsCertificate, 'cert' | 'key'> | null): void;
  /** Resolves once every router worker process accepts connections (the server process does from the start). */
  workersListening(): Promise<void>;
  /** Process ids of the running router worker processes (none with `workers: 1`). */
  workerPids(): number[];
}

export async function startBuiltinRouter(options: BuiltinRouterOptions): Promise<BuiltinRouter> {
  const logger = options.logger;
  const proxy = createProxyServer({ ...options, tls: options.tlsPort !== undefined });
  await listen(proxy.server, { port: options.port, host: options.host });
  const bound = proxy.server.address() as AddressInfo;
  let tlsBound: AddressInfo | undefined;
  if (proxy.tlsServer !== null) {
    try {
      await listen(proxy.tlsServer, { port: options.tlsPort as number, host: options.host });
    } catch (err) {
      await proxy.close();
      throw err;
    }
    tlsBound = proxy.tlsServer.address() as AddressInfo;
  }
  proxy.setForwardedPort(bound.port, tlsBound?.port);
  logger?.debug({ host: bound.address, port: bound.port, tlsPort: tlsBound?.port }, 'router listening');

  let certificatesNow: readonly TlsCertificate[] = [];
  const workerCount = Math.max(1, options.workers ?? 1) - 1;
  // Forked after listening: the server process serves at once, workers join as they load.
  const workers: RouterWorkers | null =
    workerCount === 0
      ? null
      : startRouterWorkers({
          count: workerCount,
          listener: proxy.server,
          tls:
            proxy.tlsServer === null ? undefined : { listener: proxy.tlsServer, certificates: () => certificatesNow },
          settings: {
            domain: options.domain,
            upstreamTimeoutMs: options.upstreamTimeoutMs,
            connectTimeoutMs: options.connectTimeoutMs,
            maxSocketsPerBackend: options.maxSocketsPerBackend,
            idleSocketMs: options.idleSocketMs,
            maxConnections: options.maxConnections,
            headersTimeoutMs: options.headersTimeoutMs,
            port: bound.port,
            tlsPort: tlsBound?.port,
          },
          routes: () => proxy.routes(),
          logger,
          onAccess: options.onAccess,
          restartBackoffMs: options.workerRestartBackoffMs,
        });

  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    tlsAddress: tlsBound === undefined ? undefined : { host: tlsBound.address, port: tlsBound.port },
    setRoute(app: string, route: AppRoute): void {
      assertValidRoute(app, route);
      // Copied so later mutation by the caller cannot change a live table.
      const copy: AppRoute = {
        hostnames: [...route.hostnames],
        backends: route.backends.map(copyBackend),
        forceHttps: route.forceHttps === true,
        hsts: route.hsts === true,
      };
      proxy.setRoute(app, copy);
      workers?.publish({ t: 'set', app, route: copy });
    },
    removeRoute(app: string): void {
      if (proxy.removeRoute(app)) workers?.publish({ t: 'remove', app });
    },
    setCertificates(certificates: readonly TlsCertificate[]): void {
      proxy.setCertificates(certificates); // throws on one node cannot load: nothing changes then
      certificatesNow = certificates.map((c) => ({ hostnames: [...c.hostnames], cert: c.cert, key: c.key }));
      workers?.publish({ t: 'certs', certificates: certificatesNow });
    },
    setChallenge(token: string, keyAuthorization: string | null): void {
      proxy.setChallenge(token, keyAuthorization);
      workers?.publish({ t: 'challenge', token, keyAuthorization });
    },
    setAlpnChallenge(hostname, certificate): void {
      const copy = certificate === null ? null : { cert: certificate.cert, key: certificate.key };
      proxy.setAlpnChallenge(hostname, copy);
      workers?.publish({ t: 'alpn', hostname, certificate: copy });
    },
    settled(): Promise<void> {
      return workers === null ? Promise.resolve() : workers.settled();
    },
    async drain(backendIds: readonly string[], timeoutMs: number): Promise<void> {
      await Promise.all([proxy.drain(backendIds, timeoutMs), workers?.drain(backendIds, timeoutMs)]);
    },
    workersListening: () => workers?.listening() ?? Promise.resolve(),
    workerPids: () => workers?.pids() ?? [],
    close(): Promise<void> {
      closing ??= Promise.all([workers?.close(), proxy.close()]).then(() => {});
      return closing;
    },
  };
}

function copyBackend(backend: Backend): Backend {
  return { id: backend.id, host: backend.host, port: backend.port };
}
