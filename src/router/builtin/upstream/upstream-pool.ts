// The keep-alive connections to one backend container: idle ones are reused
// most-recently-used first, at most `maxSockets` are open, and requests
// beyond that wait in order. Retiring the pool (the container is being
// stopped) closes idle connections and lets busy ones close after their
// response, so nothing new reaches the container through it.

import { performance } from 'node:perf_hooks';
import { type ConnectionOwner, UpstreamConnection, type UpstreamHandler } from './upstream-connection.ts';

export interface PoolOptions {
  /** Concurrent connections per backend; further requests queue in its pool. */
  readonly maxSockets: number;
  /**
   * Idle pooled connections are closed after this long (also the cap on what
   * a backend's `Keep-Alive: timeout=` hint may ask for). Kept below Node's
   * default server keepAliveTimeout (5 s) so the backend rarely closes a
   * connection at the moment we pick it from the pool.
   */
  readonly idleSocketMs: number;
  /**
   * Idle time allowed on a backend connection, like nginx's
   * proxy_connect/read_timeout: connecting, waiting for the response headers
   * (refreshed while a request body is being written), and between body chunks.
   */
  readonly upstreamTimeoutMs: number;
  /** How long connecting to a backend may take, like nginx's proxy_connect_timeout (5 s there too). */
  readonly connectTimeoutMs: number;
}

export class UpstreamPool implements ConnectionOwner {
  retired = false;
  destroyed = false;
  /** Idle connections, most recently used last. */
  readonly #idle: UpstreamConnection[] = [];
  readonly #all = new Set<UpstreamConnection>();
  /** Requests waiting for a connection, oldest first. */
  readonly #waiting = new Set<UpstreamHandler>();

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: PoolOptions,
  ) {}

  get timeoutMs(): number {
    return this.options.upstreamTimeoutMs;
  }

  get connectTimeoutMs(): number {
    return this.options.connectTimeoutMs;
  }

  dispatch(handler: UpstreamHandler): void {
    if (this.destroyed) {
      handler.onError('failed', 'router closing');
      return;
    }
    const idle = this.#takeIdle();
    if (idle !== undefined) idle.run(handler);
    else if (this.#all.size < this.options.maxSockets) this.#open(false).run(handler);
    else this.#waiting.add(handler);
  }

  /** Runs `handler` on a new connection that closes after it: the retry after a pooled one died. */
  dispatchFresh(handler: UpstreamHandler): void {
    if (this.destroyed) handler.onError('failed', 'router closing');
    else this.#open(true).run(handler);
  }

  /** Takes a request out of the wait list (its client went away); false if it was not waiting. */
  cancel(handler: UpstreamHandler): boolean {
    return this.#waiting.delete(handler);
  }

  release(connection: UpstreamConnection): void {
    const next = this.#nextWaiting();
    if (next !== undefined) {
      connection.run(next);
    } else if (this.retired || this.destroyed) {
      connection.destroy();
    } else {
      connection.idleSince = performance.now();
      this.#idle.push(connection);
    }
  }

  forget(connection: UpstreamConnection): void {
    if (!this.#all.delete(connection)) return;
    const at = this.#idle.indexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
    // A slot came free: the oldest waiting request gets a new connection.
    if (this.#waiting.size !== 0 && !this.destroyed) {
      const next = this.#nextWaiting() as UpstreamHandler;
      this.#open(false).run(next);
    }
  }

  /** Closes connections idle for longer than allowed. */
  sweep(now: number): void {
    // Backwards, as a destroyed connection leaves the list at once.
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const connection = this.#idle[i] as UpstreamConnection;
      if (now - connection.idleSince >= connection.idleLimitMs) connection.destroy();
    }
  }

  retire(): void {
    this.retired = true;
    for (const connection of this.#idle.splice(0)) connection.destroy();
  }

  /** Routed to again after retirement: the container is alive and in use. */
  revive(): void {
    this.retired = false;
  }

  /** Closes every connection; waiting and running requests fail. */
  destroy(): void {
    this.destroyed = true;
    for (const handler of this.#waiting) handler.onError('failed', 'router closing');
    this.#waiting.clear();
    for (const connection of [...this.#all]) connection.destroy();
  }

  /** The most recently used idle connection still within its idle limit; older ones past it are closed. */
  #takeIdle(): UpstreamConnection | undefined {
    let connection = this.#idle.pop();
    if (connection === undefined) return undefined;
    const now = performance.now();
    while (connection !== undefined && now - connection.idleSince >= connection.idleLimitMs) {
      connection.destroy();
      connection = this.#idle.pop();
    }
    return connection;
  }

  #nextWaiting(): UpstreamHandler | undefined {
    for (const handler of this.#waiting) {
      this.#waiting.delete(handler);
      return handler;
    }
    return undefined;
  }

  #open(singleUse: boolean): UpstreamConnection {
    const connection = new UpstreamConnection(this, this.host, this.port, this.options.idleSocketMs, singleUse);
    this.#all.add(connection);
    return connection;
  }
}
