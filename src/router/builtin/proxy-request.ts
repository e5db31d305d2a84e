// The plain HTTP data path: one client request → one backend request, bodies
// streamed both ways, with the 404/503/502/504 answers and the single retry
// that keeps deploys seamless. Per request there is one Exchange object and
// no closures: listeners are shared functions that find their Exchange
// through the `exchange` field of our ServerResponse/ClientRequest subclasses.

import { type Agent, ClientRequest, type IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { BackendState } from './backend-pool.ts';
import { sendErrorPage } from './error-pages.ts';
import { clientAddress, responseHeaders, type ScannedRequest, scanRequestHeaders } from './forward-headers.ts';
import { CLIENT_CLOSED_STATUS, isIdempotent, type ProxyContext, reportAccess } from './proxy-context.ts';
import { hostKey, pickBackend, pickOtherBackend } from './route-table.ts';

/** The ServerResponse class the router's server is created with. */
export class ProxyResponse extends ServerResponse {
  exchange: Exchange | null = null;
}

class UpstreamRequest extends ClientRequest {
  exchange: Exchange | null = null;
}

class Exchange implements ScannedRequest {
  host: string | undefined = undefined;
  requestId = '';
  hasBody = false;
  headers: string[] = [];
  app: string | null = null;
  hostKey = '';
  backend: BackendState | null = null;
  upstream: UpstreamRequest | null = null;
  upstreamRes: IncomingMessage | null = null;
  retried = false;
  timedOut = false;
  clientClosed = false;
  readonly startedAt = performance.now();

  constructor(
    readonly ctx: ProxyContext,
    readonly req: IncomingMessage,
    readonly res: ProxyResponse,
  ) {}
}

export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ProxyResponse): void {
  const ex = new Exchange(ctx, req, res);
  res.exchange = ex;
  res.on('close', onClientClose);
  scanRequestHeaders(req.rawHeaders, ex, clientAddress(req.socket.remoteAddress), ctx.forwardedPort, false);
  ex.hostKey = hostKey(ex.host);
  const entry = ctx.table.get(ex.hostKey);
  if (entry === undefined) {
    sendErrorPage(res, 404, ctx.pages.notFound, ex.requestId);
    return;
  }
  ex.app = entry.app;
  const backend = pickBackend(entry);
  if (backend === undefined) {
    sendErrorPage(res, 503, ctx.pages.noBackend(entry.app), ex.requestId);
    return;
  }
  ex.backend = backend;
  ctx.pool.begin(backend);
  const upstream = sendUpstream(ex, backend, backend.agent);
  if (upstream === null) return;
  if (ex.hasBody) req.pipe(upstream);
  else upstream.end();
}

function sendUpstream(ex: Exchange, backend: BackendState, agent: Agent | false): UpstreamRequest | null {
  let upstream: UpstreamRequest;
  try {
    upstream = newUpstreamRequest(ex, backend, agent);
  } catch (err) {
    // Node validates synchronously (path characters, address); a throw here
    // must cost one request, not the process.
    ex.ctx.logger?.error(
      { err, app: ex.app, backend: backend.id, requestId: ex.requestId },
      'cannot start upstream request',
    );
    sendErrorPage(ex.res, 502, ex.ctx.pages.badGateway, ex.requestId);
    return null;
  }
  upstream.exchange = ex;
  ex.upstream = upstream;
  upstream.on('response', onUpstreamResponse);
  upstream.on('error', onUpstreamError);
  upstream.on('timeout', onUpstreamTimeout);
  upstream.on('close', onUpstreamClose);
  return upstream;
}

function newUpstreamRequest(ex: Exchange, backend: BackendState, agent: Agent | false): UpstreamRequest {
  return new UpstreamRequest({
    host: backend.host,
    port: backend.port,
    method: ex.req.method,
    path: ex.req.url,
    headers: ex.headers,
    agent,
    setHost: false,
    // An idle timeout, like nginx's proxy_read_timeout: before the response
    // headers it means 504; while streaming it aborts both sides.
    timeout: ex.ctx.upstreamTimeoutMs,
  });
}

function onUpstreamResponse(this: UpstreamRequest, upstreamRes: IncomingMessage): void {
  const ex = this.exchange as Exchange;
  if (ex.clientClosed) {
    this.destroy();
    return;
  }
  ex.upstreamRes = upstreamRes;
  ex.res.writeHead(
    upstreamRes.statusCode ?? 502,
    upstreamRes.statusMessage,
    responseHeaders(upstreamRes.rawHeaders, ex.requestId),
  );
  upstreamRes.pipe(ex.res);
}

function onUpstreamTimeout(this: UpstreamRequest): void {
  (this.exchange as Exchange).timedOut = true;
  this.destroy();
}

function onUpstreamError(this: UpstreamRequest, err: NodeJS.ErrnoException): void {
  const ex = this.exchange as Exchange;
  if (ex.upstream !== this || ex.clientClosed) return;
  const res = ex.res;
  if (res.headersSent) {
    // Mid-body: the client must see a broken response, not a truncated one.
    res.destroy();
    return;
  }
  if (retry(ex, this, err)) return;
  const status = ex.timedOut ? 504 : 502;
  ex.ctx.logger?.warn(
    { app: ex.app, backend: ex.backend?.id, code: err.code, requestId: ex.requestId, status },
    'upstream request failed',
  );
  sendErrorPage(res, status, status === 504 ? ex.ctx.pages.gatewayTimeout : ex.ctx.pages.badGateway, ex.requestId);
}

/**
 * Once per request, and only when nothing can have reached the app: a refused
 * connection moves to another backend (e.g. an old container already gone),
 * a dead pooled socket is replaced by a fresh connection to the same one.
 */
function retry(ex: Exchange, failed: UpstreamRequest, err: NodeJS.ErrnoException): boolean {
  if (ex.retried || ex.timedOut || ex.hasBody || !isIdempotent(ex.req.method)) return false;
  const backend = ex.backend as BackendState;
  if (err.code === 'ECONNREFUSED') {
    // The current table, not the one the request started with: after a swap
    // the new containers are the ones to try.
    const entry = ex.ctx.table.get(ex.hostKey);
    const next = entry === undefined ? undefined : pickOtherBackend(entry, backend);
    if (next === undefined) return false;
    ex.retried = true;
    ex.ctx.pool.end(backend);
    ex.backend = next;
    ex.ctx.pool.begin(next);
    sendUpstream(ex, next, next.agent)?.end();
    return true;
  }
  if (failed.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
    ex.retried = true;
    // agent: false forces a new connection instead of another pooled one.
    sendUpstream(ex, backend, false)?.end();
    return true;
  }
  return false;
}

function onUpstreamClose(this: UpstreamRequest): void {
  const ex = this.exchange as Exchange;
  if (ex.upstream !== this) return;
  const upstreamRes = ex.upstreamRes;
  // The backend went away mid-body: pipe() would leave the client waiting.
  if (upstreamRes !== null && !upstreamRes.complete && !ex.clientClosed) ex.res.destroy();
}

function onClientClose(this: ProxyResponse): void {
  const ex = this.exchange as Exchange;
  ex.clientClosed = true;
  // Not finished means the client went away (or we destroyed the response):
  // stop the backend work too.
  if (!this.writableFinished && ex.upstream !== null) ex.upstream.destroy();
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
