// WebSocket (and any other Upgrade) requests: a raw TCP tunnel per request.
// The request head is rewritten like a plain request and written to a fresh
// connection; client bytes are forwarded only once the backend answered 101,
// so a rejected upgrade cannot be used to pipe arbitrary requests to the app.
// Upgrades are rare next to plain requests, so closures are fine here.

import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { writeRawErrorPage } from '../error-pages.ts';
import { clientAddress, emptyScan, originForm, scanRequestHeaders, serializeRequestHead } from './forward-headers.ts';
import { CLIENT_CLOSED_STATUS, type ProxyContext, reportAccess } from './proxy-context.ts';
import { hostKey, pickBackend, pickOtherBackend } from './route-table.ts';
import type { BackendState } from './upstream/backend-pool.ts';
import { refusedOrUnreachable } from './upstream/upstream-connection.ts';

/** How long a half-closed tunnel end may linger before it is destroyed. */
const HALF_CLOSE_GRACE_MS = 5_000;
/** "HTTP/1.1 101" — enough bytes to read the status code. */
const STATUS_LINE_PREFIX = 12;

export function proxyUpgrade(ctx: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer): void {
  // Node removed its own listeners when it handed the socket over.
  socket.on('error', ignoreError);
  const scan = emptyScan();
  const target = originForm(req.url ?? '');
  const secure = (socket as TLSSocket).encrypted === true;
  scanRequestHeaders(
    req.rawHeaders,
    scan,
    clientAddress(socket.remoteAddress),
    secure ? (ctx.tlsPort as string) : ctx.forwardedPort,
    secure ? 'https' : 'http',
    true,
    target?.authority,
  );
  const key = hostKey(scan.host);
  const entry = ctx.table.get(key);
  const startedAt = performance.now();
  const access = (app: string | null, status: number) =>
    reportAccess(ctx, {
      app,
      method: req.method ?? '',
      path: req.url ?? '',
      status,
      durationMs: performance.now() - startedAt,
      requestId: scan.requestId,
    });
  if (target === null || scan.duplicateHost) {
    writeRawErrorPage(socket, 400, ctx.pages.badRequest, scan.requestId);
    access(null, 400);
    return;
  }
  if (entry === undefined) {
    writeRawErrorPage(socket, 404, ctx.pages.notFound, scan.requestId);
    access(null, 404);
    return;
  }
  const app = entry.app;
  const first = pickBackend(entry);
  if (first === undefined) {
    writeRawErrorPage(socket, 503, ctx.pages.noBackend(app), scan.requestId);
    access(app, 503);
    return;
  }
  const requestHead = serializeRequestHead(req.method ?? 'GET', target.path, scan.headers);
  socket.setTimeout(0);
  socket.setNoDelay(true);
  ctx.tunnelSockets.add(socket);
  let clientClosed = false;
  socket.on('close', () => {
    clientClosed = true;
    ctx.tunnelSockets.delete(socket);
  });

  const connect = (backend: BackendState, retried: boolean) => {
    ctx.pool.upgradeOpened(backend);
    const upstream = net.connect({ host: backend.host, port: backend.port, noDelay: true });
    ctx.tunnelSockets.add(upstream);
    let status = 0;
    let pending: Buffer | undefined;
    let timedOut = false;
    let connected = false;
    let failure: NodeJS.ErrnoException | undefined;
    upstream.setTimeout(Math.min(ctx.connectTimeoutMs, ctx.upstreamTimeoutMs));
    upstream.on('timeout', () => {
      timedOut = true;
      upstream.destroy();
    });
    upstream.on('error', (err) => {
      failure = err;
    });
    upstream.on('connect', () => {
      connected = true;
      upstream.setTimeout(ctx.upstreamTimeoutMs);
      upstream.write(requestHead);
    });

    const onResponseStart = (chunk: Buffer) => {
      pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length < STATUS_LINE_PREFIX) return;
      upstream.removeListener('data', onResponseStart);
      upstream.setTimeout(0);
      status = Number(pending.toString('latin1', 9, 12)) || 502;
      socket.write(pending);
      upstream.pipe(socket);
      if (status === 101) {
        if (head.length !== 0) upstream.write(head);
        socket.pipe(upstream);
      } else {
        // The backend answered with a normal response: let it finish, then close.
        upstream.end();
      }
    };
    upstream.on('data', onResponseStart);

    const onClientGone = (hadError: boolean) => endOther(upstream, hadError);
    socket.once('close', onClientGone);

    upstream.on('close', (hadError) => {
      ctx.tunnelSockets.delete(upstream);
      socket.removeListener('close', onClientGone);
      ctx.pool.upgradeClosed(backend);
      if (status !== 0) {
        endOther(socket, hadError);
        access(app, status);
        return;
      }
      if (clientClosed) {
        access(app, CLIENT_CLOSED_STATUS);
        return;
      }
      // Nothing reached the app: refused, unreachable, or not connected in time.
      const unreachable = !connected && (timedOut || refusedOrUnreachable(failure?.code, connected));
      if (unreachable) backend.markUnreachable();
      if (!retried && unreachable) {
        const current = ctx.table.get(key);
        const next = current === undefined ? undefined : pickOtherBackend(current, backend);
        if (next !== undefined) {
          connect(next, true);
          return;
        }
      }
      const code = timedOut ? 504 : 502;
      ctx.logger?.warn({ app, backend: backend.id, code: failure?.code, requestId: scan.requestId }, 'upgrade failed');
      writeRawErrorPage(socket, code, code === 504 ? ctx.pages.gatewayTimeout : ctx.pages.badGateway, scan.requestId);
      access(app, code);
    });
  };
  connect(first, false);
}

/** Ends the other side of a tunnel, abruptly if this side failed. */
function endOther(other: Socket, hadError: boolean): void {
  if (other.destroyed) return;
  if (hadError) {
    other.destroy();
    return;
  }
  other.end();
  // A peer that never closes its side must not keep the socket forever.
  other.setTimeout(HALF_CLOSE_GRACE_MS, destroyOnTimeout);
}

function destroyOnTimeout(this: Socket): void {
  this.destroy();
}

function ignoreError(): void {
  // 'close' follows every error; the tunnel reacts there.
}
