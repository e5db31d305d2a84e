// The plain HTTP data path: one client request → one backend request over the
// backend's undici pool, bodies streamed both ways with back-pressure, with
// the 404/503/502/504 answers and the single retry that keeps deploys
// seamless. Per request there is one Exchange object, which is also the
// undici dispatch handler, and no closures: the client-side listeners are
// shared functions that find their Exchange through ProxyResponse.exchange.

import type { IncomingMessage } from 'node:http';
import { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { BackendState } from './backend-pool.ts';
import { sendErrorPage } from './error-pages.ts';
import { clientAddress, responseHeaders, type ScannedRequest, scanRequestHeaders } from './forward-headers.ts';
import { CLIENT_CLOSED_STATUS, isIdempotent, type ProxyContext, reportAccess } from './proxy-context.ts';
import { hostKey, pickBackend, pickOtherBackend } from './route-table.ts';

/** The ServerResponse class the router's server is created with. */
export class ProxyResponse extends ServerResponse {
  exchange: Exchange | null = null;
}

type Abort = (err?: Error) => void;

/** Errors that mean the backend connection died before any response byte. */
const CONNECTION_LOST: ReadonlySet<string | undefined> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
/** The connect, headers and body timeouts: all answer 504 (or cut the response). */
const TIMED_OUT: ReadonlySet<string | undefined> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

class Exchange implements ScannedRequest, Dispatcher.DispatchHandler {
  host: string | undefined = undefined;
  requestId = '';
  hasBody = false;
  headers: string[] = [];
  app: string | null = null;
  hostKey = '';
  backend: BackendState | null = null;
  /** Cancels the current upstream attempt; set once it is on a connection. */
  abort: Abort | null = null;
  /** Resumes the upstream body once the client drained what we wrote. */
  resume: (() => void) | null = null;
  retried = false;
  clientClosed = false;
  readonly startedAt = performance.now();

  constructor(
    readonly ctx: ProxyContext,
    readonly req: IncomingMessage,
    readonly res: ProxyResponse,
  ) {}

  onConnect(abort: Abort): void {
    // The client may have gone while the request waited for a free connection.
    if (this.clientClosed) abort();
    else this.abort = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Informational answers (103 Early Hints, 102) are not passed on.
    if (status < 200) return true;
    this.resume = resume;
    this.res.writeHead(status, statusText, responseHeaders(rawHeaders, this.requestId));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // Undici stops reading from the backend until resume() is called.
    this.res.once('drain', onClientDrain);
    return false;
  }

  onComplete(): void {
    this.abort = null;
    this.res.end();
  }

  onError(err: Error): void {
    this.abort = null;
    if (this.clientClosed) return;
    try {
      answerUpstreamError(this, err);
    } catch (thrown) {
      // Undici turns a throw here into an 'error' event nobody listens to,
      // which would end the process: one request's failure must stay its own.
      this.ctx.logger?.error({ err: thrown, requestId: this.requestId }, 'answering an upstream error failed');
      this.res.destroy();
    }
  }
}

function answerUpstreamError(ex: Exchange, err: Error): void {
  const res = ex.res;
  if (res.headersSent) {
    // Mid-body: the client must see a broken response, not a truncated one.
    res.destroy();
    return;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (retry(ex, code)) return;
  const status = TIMED_OUT.has(code) ? 504 : 502;
  ex.ctx.logger?.warn(
    {
      app: ex.app,
      backend: ex.backend?.id,
      code,
      err: code === undefined ? err : undefined,
      requestId: ex.requestId,
      status,
    },
    'upstream request failed',
  );
  sendErrorPage(res, status, status === 504 ? ex.ctx.pages.gatewayTimeout : ex.ctx.pages.badGateway, ex.requestId);
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
  // Errors, invalid requests included, come back through ex.onError.
  backend.pool.dispatch(dispatchOptions(ex), ex);
}

function dispatchOptions(ex: Exchange): Dispatcher.DispatchOptions {
  return {
    method: ex.req.method as Dispatcher.HttpMethod,
    path: ex.req.url as string,
    headers: ex.headers,
    body: ex.hasBody ? ex.req : null,
  };
}

function onClientDrain(this: ProxyResponse): void {
  const ex = this.exchange as Exchange;
  ex.resume?.();
}

/**
 * Once per request, and only when nothing can have reached the app: a refused
 * connection moves to another backend (e.g. an old container already gone),
 * a connection that died before answering (typically a pooled one the
 * backend closed just then) is replaced by a fresh one to the same backend.
 */
function retry(ex: Exchange, code: string | undefined): boolean {
  if (ex.retried || ex.hasBody || !isIdempotent(ex.req.method)) return false;
  const backend = ex.backend as BackendState;
  if (code === 'ECONNREFUSED') {
    // The current table, not the one the request started with: after a swap
    // the new containers are the ones to try.
    const entry = ex.ctx.table.get(ex.hostKey);
    const next = entry === undefined ? undefined : pickOtherBackend(entry, backend);
    if (next === undefined) return false;
    ex.retried = true;
    ex.ctx.pool.end(backend);
    ex.backend = next;
    ex.ctx.pool.begin(next);
    next.pool.dispatch(dispatchOptions(ex), ex);
    return true;
  }
  if (CONNECTION_LOST.has(code)) {
    ex.retried = true;
    const client = ex.ctx.pool.freshClient(backend);
    client.dispatch(dispatchOptions(ex), ex);
    // Closes once that one request has finished.
    client.close().catch(ignore);
    return true;
  }
  return false;
}

function onClientClose(this: ProxyResponse): void {
  const ex = this.exchange as Exchange;
  ex.clientClosed = true;
  // Not finished means the client went away (or we destroyed the response):
  // stop the backend work too.
  if (!this.writableFinished && ex.abort !== null) ex.abort();
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

function ignore(): void {}
