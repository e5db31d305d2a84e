// The plain HTTP data path: one client request → one backend request over a
// pooled keep-alive connection, bodies streamed both ways with back-pressure,
// with the 404/503/502/504 answers and the single retry that keeps deploys
// seamless. Per request there is one Exchange object, which is also the
// upstream connection's handler, and no closures: the client-side listeners
// are shared functions that find their Exchange through ProxyResponse.exchange.

import type { IncomingMessage } from 'node:http';
import { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { sendErrorPage } from '../error-pages.ts';
import {
  clientAddress,
  originForm,
  responseHeaders,
  type ScannedRequest,
  scanRequestHeaders,
  serializeRequestHead,
} from './forward-headers.ts';
import { CLIENT_CLOSED_STATUS, isIdempotent, type ProxyContext, reportAccess } from './proxy-context.ts';
import { hostKey, pickBackend, pickOtherBackend } from './route-table.ts';
import type { BackendState } from './upstream/backend-pool.ts';
import type { UpstreamConnection, UpstreamFailure, UpstreamHandler } from './upstream/upstream-connection.ts';

/** The ServerResponse class the router's server is created with. */
export class ProxyResponse extends ServerResponse {
  exchange: Exchange | null = null;
}

class Exchange implements ScannedRequest, UpstreamHandler {
  host: string | undefined = undefined;
  duplicateHost = false;
  requestId = '';
  hasBody = false;
  chunkedBody = false;
  headers: string[] = [];
  requestHead = '';
  app: string | null = null;
  hostKey = '';
  backend: BackendState | null = null;
  upstream: UpstreamConnection | null = null;
  retried = false;
  /** Sent to another backend already (after a refusal). */
  movedOn = false;
  clientClosed = false;
  /** Our Strict-Transport-Security goes on the response (an HTTPS request to an app with HSTS on). */
  hsts = false;
  /** A 'drain' listener is waiting to resume the upstream read. */
  awaitingDrain = false;
  readonly method: string;
  readonly startedAt = performance.now();

  constructor(
    readonly ctx: ProxyContext,
    readonly req: IncomingMessage,
    readonly res: ProxyResponse,
  ) {
    this.method = req.method as string;
  }

  get body(): IncomingMessage | null {
    return this.hasBody ? this.req : null;
  }

  onHeaders(status: number, statusText: string, headers: string[]): void {
    const out = responseHeaders(headers, this.requestId, this.hsts);
    if (statusText === '') this.res.writeHead(status, out);
    else this.res.writeHead(status, statusText, out);
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // Several pieces of one backend read may each find the client's buffer full.
    if (!this.awaitingDrain) {
      this.awaitingDrain = true;
      this.res.once('drain', onClientDrain);
    }
    return false;
  }

  onComplete(): void {
    this.res.end();
  }

  onError(failure: UpstreamFailure, detail: string | undefined): void {
    if (this.clientClosed) return;
    try {
      answerUpstreamError(this, failure, detail);
    } catch (thrown) {
      // One request's failure must stay its own.
      this.ctx.logger?.error({ err: thrown, requestId: this.requestId }, 'answering an upstream error failed');
      this.res.destroy();
    }
  }
}

function answerUpstreamError(ex: Exchange, failure: UpstreamFailure, detail: string | undefined): void {
  const res = ex.res;
  if (res.headersSent) {
    // Mid-body: the client must see a broken response, not a truncated one.
    res.destroy();
    return;
  }
  if (failure === 'refused' || failure === 'unreachable') (ex.backend as BackendState).markUnreachable();
  if (retry(ex, failure)) return;
  const status = failure === 'timeout' || failure === 'unreachable' ? 504 : 502;
  ex.ctx.logger?.warn(
    { app: ex.app, backend: ex.backend?.id, failure, detail, requestId: ex.requestId, status },
    'upstream request failed',
  );
  sendErrorPage(res, status, status === 504 ? ex.ctx.pages.gatewayTimeout : ex.ctx.pages.badGateway, ex.requestId);
}

export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ProxyResponse): void {
  const ex = new Exchange(ctx, req, res);
  res.exchange = ex;
  res.on('close', onClientClose);
  const target = originForm(req.url as string);
  const secure = (req.socket as TLSSocket).encrypted === true;
  scanRequestHeaders(
    req.rawHeaders,
    ex,
    clientAddress(req.socket.remoteAddress),
    secure ? (ctx.tlsPort as string) : ctx.forwardedPort,
    secure ? 'https' : 'http',
    false,
    target?.authority,
  );
  if (target === null || ex.duplicateHost) {
    sendErrorPage(res, 400, ctx.pages.badRequest, ex.requestId);
    return;
  }
  const challenge = !secure && target.path.startsWith(CHALLENGE_PREFIX);
  if (challenge && answerChallenge(ctx, target.path, res)) return;
  ex.hostKey = hostKey(ex.host);
  const entry = ctx.table.get(ex.hostKey);
  if (entry === undefined) {
    sendErrorPage(res, 404, ctx.pages.notFound, ex.requestId);
    return;
  }
  if (!secure && entry.forceHttps && !challenge && ctx.tlsPort !== null) {
    redirectToHttps(res, ex.hostKey, ctx.tlsPort, target.path, ex.requestId);
    return;
  }
  ex.hsts = secure && entry.hsts;
  ex.app = entry.app;
  const backend = pickBackend(entry);
  if (backend === undefined) {
    sendErrorPage(res, 503, ctx.pages.noBackend(entry.app), ex.requestId);
    return;
  }
  ex.backend = backend;
  ex.requestHead = serializeRequestHead(ex.method, target.path, ex.headers);
  ctx.pool.begin(backend);
  // Errors come back through ex.onError.
  backend.pool.dispatch(ex);
}

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** ACME http-01: true when the token is one of ours (answered); others go to the app, which may run its own. */
function answerChallenge(ctx: ProxyContext, path: string, res: ProxyResponse): boolean {
  if (ctx.challenges.size === 0) return false;
  const query = path.indexOf('?');
  const token = path.slice(CHALLENGE_PREFIX.length, query === -1 ? undefined : query);
  const keyAuthorization = ctx.challenges.get(token);
  if (keyAuthorization === undefined) return false;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(keyAuthorization) });
  res.end(keyAuthorization);
  return true;
}

/** 308 keeps the method and body, unlike 301. */
function redirectToHttps(res: ProxyResponse, host: string, tlsPort: string, path: string, requestId: string): void {
  const location = `https://${host}${tlsPort === '443' ? '' : `:${tlsPort}`}${path}`;
  res.writeHead(308, { location, 'content-length': 0, 'x-request-id': requestId });
  res.end();
}

function onClientDrain(this: ProxyResponse): void {
  const ex = this.exchange as Exchange;
  ex.awaitingDrain = false;
  ex.upstream?.resume();
}

/**
 * Only when nothing can have reached the app: a connection that died before
 * answering (typically a pooled one the backend closed just then) is replaced,
 * once, by a fresh one to the same backend; a refused or unreachable one (or one
 * not connected within the connect timeout) moves, once, to another backend (an
 * old container already gone, a node lost).
 */
function retry(ex: Exchange, failure: UpstreamFailure): boolean {
  if (ex.hasBody || !isIdempotent(ex.method)) return false;
  const backend = ex.backend as BackendState;
  // Also after a fresh connection replaced a lost one: a refusal means nothing reached the app.
  if ((failure === 'refused' || failure === 'unreachable') && !ex.movedOn) {
    // The current table, not the one the request started with: after a swap
    // the new containers are the ones to try.
    const entry = ex.ctx.table.get(ex.hostKey);
    const next = entry === undefined ? undefined : pickOtherBackend(entry, backend);
    if (next === undefined) return false;
    ex.retried = true;
    ex.movedOn = true;
    ex.ctx.pool.end(backend);
    ex.backend = next;
    ex.ctx.pool.begin(next);
    next.pool.dispatch(ex);
    return true;
  }
  if (failure === 'lost' && !ex.retried) {
    ex.retried = true;
    backend.pool.dispatchFresh(ex);
    return true;
  }
  return false;
}

function onClientClose(this: ProxyResponse): void {
  const ex = this.exchange as Exchange;
  ex.clientClosed = true;
  // Not finished means the client went away (or we destroyed the response):
  // stop the backend work too, or never start it.
  if (!this.writableFinished && ex.backend !== null) {
    if (ex.upstream !== null) ex.upstream.abort();
    else ex.backend.pool.cancel(ex);
  }
  if (ex.backend !== null) ex.ctx.pool.end(ex.backend);
  if (ex.ctx.onAccess === undefined) return;
  reportAccess(ex.ctx, {
    app: ex.app,
    method: ex.req.method ?? '',
    path: ex.req.url ?? '',
    status: this.headersSent ? this.statusCode : CLIENT_CLOSED_STATUS,
    durationMs: performance.now() - ex.startedAt,
    requestId: ex.requestId,
  });
}
