// One keep-alive HTTP/1.1 connection from the router to a backend container.
// It carries one exchange at a time: writes the request head (and streams
// the request body with back-pressure), parses the response and hands it to
// the exchange's handler, then goes back to its pool. Listeners are attached
// once per connection, not per request.

import net, { type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { type ResponseEvents, ResponseParser } from './response-parser.ts';

/**
 * Why an exchange failed before its response completed:
 * - `refused`: the backend refused the connection, or its host could not be reached (nothing reached the app);
 * - `unreachable`: connecting took longer than the connect timeout (a host that does not answer: nothing reached the app);
 * - `lost`: the connection closed or reset before any byte of the response;
 * - `timeout`: connecting, waiting for the response, or between two reads took too long;
 * - `invalid`: the backend's response could not be parsed or passed on;
 * - `failed`: any other connection error, or the connection closed mid-response.
 */
export type UpstreamFailure = 'refused' | 'unreachable' | 'lost' | 'timeout' | 'invalid' | 'failed';

/** The proxy's side of one request on an upstream connection. */
export interface UpstreamHandler {
  readonly method: string;
  /** Request line and headers, ready for the wire (latin1). */
  readonly requestHead: string;
  /** The request body to stream after the head, or null. */
  readonly body: Readable | null;
  /** Whether the body goes out in chunked encoding (the client sent no length). */
  readonly chunkedBody: boolean;
  /** Set while the request is on a connection. */
  upstream: UpstreamConnection | null;
  onHeaders(status: number, statusText: string, headers: string[]): void;
  /** False asks the connection to stop reading until `resume()`. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(failure: UpstreamFailure, detail: string | undefined): void;
}

/** What a connection needs from the pool that owns it. */
export interface ConnectionOwner {
  readonly timeoutMs: number;
  /** How long connecting may take (at most `timeoutMs`). */
  readonly connectTimeoutMs: number;
  release(connection: UpstreamConnection): void;
  forget(connection: UpstreamConnection): void;
}

/** Connecting failed this way: the backend's host is gone (a lost node), nothing was sent. */
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/** True when a connection's error means it never reached the backend's app (refused, or its host unreachable). */
export function refusedOrUnreachable(code: string | undefined, connected: boolean): boolean {
  return code === 'ECONNREFUSED' || (!connected && code !== undefined && UNREACHABLE_CODES.has(code));
}

/** Largest response head accepted from a backend, like Node's own default. */
const MAX_HEAD_BYTES = 16 * 1024;

export class UpstreamConnection implements ResponseEvents {
  readonly socket: Socket;
  handler: UpstreamHandler | null = null;
  /** When the connection last went idle (performance.now()). */
  idleSince = 0;
  /** How long it may stay idle: the pool's limit, or less when the backend hinted so. */
  idleLimitMs: number;
  readonly #owner: ConnectionOwner;
  readonly #parser = new ResponseParser(this, MAX_HEAD_BYTES);
  /** Set when this connection must serve one exchange only (the retry on a fresh connection). */
  readonly #singleUse: boolean;
  #body: BodyWriter | null = null;
  #error: NodeJS.ErrnoException | undefined;
  #gone = false;
  #connected = false;

  constructor(owner: ConnectionOwner, host: string, port: number, idleLimitMs: number, singleUse: boolean) {
    this.#owner = owner;
    this.idleLimitMs = idleLimitMs;
    this.#singleUse = singleUse;
    const socket = net.connect({ host, port, noDelay: true });
    this.socket = socket;
    // Connecting has its own, shorter bound; then waiting for the response and each read or
    // write count as activity.
    socket.setTimeout(Math.min(owner.connectTimeoutMs, owner.timeoutMs));
    socket.once('connect', () => {
      this.#connected = true;
      socket.setTimeout(owner.timeoutMs);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#error ??= err;
    });
    // A backend closing an idle connection: leave the pool now, not at 'close'.
    socket.on('end', () => {
      if (this.handler === null) this.#close();
    });
    socket.on('timeout', () => {
      if (this.handler === null) this.#close();
      else if (!this.#connected) this.#fail('unreachable', 'connect timeout');
      else this.#fail('timeout', undefined);
    });
    socket.on('close', () => this.#onClose());
  }

  /** Sends `handler`'s request; the response comes back through its callbacks. */
  run(handler: UpstreamHandler): void {
    this.handler = handler;
    handler.upstream = this;
    this.#parser.expect(handler.method);
    this.socket.write(handler.requestHead, 'latin1');
    if (handler.body !== null) this.#body = new BodyWriter(this.socket, handler.body, handler.chunkedBody);
  }

  /** Stops reading from the backend until resume(): the client is not keeping up. */
  pause(): void {
    this.socket.pause();
    // A client that reads slowly is not the backend's delay.
    this.socket.setTimeout(0);
  }

  resume(): void {
    this.socket.setTimeout(this.#owner.timeoutMs);
    this.socket.resume();
  }

  /** Drops the current exchange without telling its handler (the client went away). */
  abort(): void {
    if (this.handler === null) return;
    this.handler.upstream = null;
    this.handler = null;
    this.#close();
  }

  /** Closes the connection; a handler still attached is told the exchange failed. */
  destroy(): void {
    this.#close();
  }

  onHead(status: number, statusText: string, headers: string[]): void {
    try {
      (this.handler as UpstreamHandler).onHeaders(status, statusText, headers);
    } catch (err) {
      // Node refused a status or header the backend sent: not passable to the client.
      this.#fail('invalid', (err as Error).message);
    }
  }

  onBody(chunk: Buffer): void {
    if (!(this.handler as UpstreamHandler).onData(chunk)) this.pause();
  }

  #onData(chunk: Buffer): void {
    const handler = this.handler;
    if (handler === null) {
      // An idle connection has nothing to say: the backend is confused.
      this.#close();
      return;
    }
    const error = this.#parser.feed(chunk);
    if (error !== null) this.#fail('invalid', error);
    else if (this.#parser.done && this.handler === handler) this.#complete(handler);
  }

  #complete(handler: UpstreamHandler): void {
    this.handler = null;
    handler.upstream = null;
    let reusable = this.#parser.reusable && !this.#singleUse;
    if (this.#body !== null) {
      // A response before the whole request body (an early 413, say) leaves
      // the connection mid-request: it cannot carry another one.
      if (!this.#body.finished) reusable = false;
      this.#body.stop();
      this.#body = null;
    }
    const hint = this.#parser.keepAliveHintMs;
    if (hint !== -1) {
      // Leave a second's margin before the backend's own idle close.
      if (hint - 1000 < this.idleLimitMs) this.idleLimitMs = hint - 1000;
      if (this.idleLimitMs <= 0) reusable = false;
    }
    handler.onComplete();
    if (!reusable || this.#gone) {
      this.#close();
      return;
    }
    // The last chunk may have filled the client's buffer: the next exchange
    // must not start on a connection that is not reading.
    if (this.socket.isPaused()) this.resume();
    this.#owner.release(this);
  }

  #fail(failure: UpstreamFailure, detail: string | undefined): void {
    const handler = this.handler;
    this.#parser.abandon();
    this.handler = null;
    this.#close();
    if (handler === null) return;
    handler.upstream = null;
    handler.onError(failure, detail);
  }

  #onClose(): void {
    this.#close();
    const handler = this.handler;
    if (handler === null) return;
    // A close-delimited body ends here; anything else is cut short.
    const started = this.#parser.started;
    if (this.#parser.finish() === null) {
      this.#complete(handler);
      return;
    }
    const code = this.#error?.code;
    let failure: UpstreamFailure = 'failed';
    if (refusedOrUnreachable(code, this.#connected)) failure = 'refused';
    else if (!started) failure = 'lost';
    this.#fail(failure, code ?? this.#error?.message);
  }

  /** Idempotent: destroys the socket, stops the body, and leaves the pool's count once. */
  #close(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#body?.stop();
    this.#body = null;
    this.socket.destroy();
    this.#owner.forget(this);
  }
}

/**
 * Streams a request body onto the connection: as sent for a known length,
 * in chunked encoding when the client sent chunks. Pauses the client request
 * while the backend connection's buffer is full.
 */
class BodyWriter {
  finished = false;
  readonly #onData = (chunk: Buffer) => this.#write(chunk);
  readonly #onEnd = () => {
    if (this.chunked) this.socket.write('0\r\n\r\n');
    this.finished = true;
  };
  readonly #onDrain = () => this.body.resume();

  constructor(
    readonly socket: Socket,
    readonly body: Readable,
    readonly chunked: boolean,
  ) {
    body.on('data', this.#onData);
    body.on('end', this.#onEnd);
    socket.on('drain', this.#onDrain);
  }

  stop(): void {
    this.body.removeListener('data', this.#onData);
    this.body.removeListener('end', this.#onEnd);
    this.socket.removeListener('drain', this.#onDrain);
    // Whatever the client still sends is read and dropped, so its connection stays usable.
    if (!this.finished) this.body.resume();
  }

  #write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    let flushed: boolean;
    if (this.chunked) {
      this.socket.cork();
      this.socket.write(`${chunk.length.toString(16)}\r\n`);
      this.socket.write(chunk);
      flushed = this.socket.write('\r\n');
      this.socket.uncork();
    } else {
      flushed = this.socket.write(chunk);
    }
    if (!flushed) this.body.pause();
  }
}
