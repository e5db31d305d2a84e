// Per-backend state shared by every route that points at a container: its
// keep-alive connection pool (undici), the in-flight counts that drain()
// waits on, and the retirement of backends no route references any more, so
// that pooled connections to a container being stopped are never reused.

import type { Client as UndiciClient, Pool as UndiciPool } from 'undici';
import Client from 'undici/lib/dispatcher/client.js';
import Pool from 'undici/lib/dispatcher/pool.js';
import type { Backend } from '../types.ts';

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
}

export class BackendState {
  /** Plain HTTP exchanges not yet finished; drain() waits for these. */
  inFlight = 0;
  /** Open upgraded tunnels (WebSockets); drain() does not wait for these. */
  upgraded = 0;
  retired = false;

  constructor(
    readonly id: string,
    readonly host: string,
    readonly port: number,
    readonly origin: string,
    /** Replaced by a new pool when a retired backend is routed to again. */
    public pool: UndiciPool,
  ) {}
}

interface DrainWaiter {
  readonly ids: readonly string[];
  readonly resolve: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class BackendPool {
  readonly #options: PoolOptions;
  readonly #states = new Map<string, BackendState>();
  readonly #waiters = new Set<DrainWaiter>();

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** The state for a backend about to be routed to, created or revived. */
  acquire(backend: Backend): BackendState {
    const existing = this.#states.get(backend.id);
    if (existing !== undefined) {
      if (existing.host === backend.host && existing.port === backend.port) {
        if (existing.retired) {
          // A closed pool refuses new requests: revive with a fresh one.
          existing.retired = false;
          existing.pool = this.#newPool(existing.origin);
        }
        return existing;
      }
      // Same id at a new address (not expected from the pipeline): the old
      // pool's connections close as their requests end; its counts are dropped.
      retirePool(existing.pool);
    }
    const origin = `http://${backend.host.includes(':') ? `[${backend.host}]` : backend.host}:${backend.port}`;
    const state = new BackendState(backend.id, backend.host, backend.port, origin, this.#newPool(origin));
    this.#states.set(backend.id, state);
    return state;
  }

  /**
   * A single-use connection to `state`'s backend, for the one retry after a
   * connection died before answering: it must not be another pooled one.
   * Closes itself once the request dispatched on it has finished.
   */
  freshClient(state: BackendState): UndiciClient {
    return new Client(state.origin, this.#connectionOptions());
  }

  /** Retires every backend whose id is not in `live`. */
  retireAllExcept(live: ReadonlySet<string>): void {
    for (const state of this.#states.values()) {
      if (state.retired || live.has(state.id)) continue;
      state.retired = true;
      retirePool(state.pool);
      this.#forgetIfIdle(state);
    }
  }

  begin(state: BackendState): void {
    state.inFlight++;
  }

  end(state: BackendState): void {
    if (--state.inFlight !== 0) return;
    this.#forgetIfIdle(state);
    if (this.#waiters.size !== 0) this.#wakeWaiters();
  }

  upgradeOpened(state: BackendState): void {
    state.upgraded++;
  }

  upgradeClosed(state: BackendState): void {
    if (--state.upgraded === 0) this.#forgetIfIdle(state);
  }

  /**
   * Resolves once no plain HTTP request is in flight to any of `ids`, or after
   * `timeoutMs`. Upgraded tunnels are not waited for: WebSockets may stay
   * open for hours, and the container's SIGTERM is what asks them to close.
   */
  drain(ids: readonly string[], timeoutMs: number): Promise<void> {
    if (this.#idle(ids)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: DrainWaiter = { ids, resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve();
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Destroys every pooled connection (in-flight requests fail) and releases pending drains. */
  close(): void {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#waiters.clear();
    for (const state of this.#states.values()) {
      state.retired = true;
      state.pool.destroy().catch(ignore);
    }
    this.#states.clear();
  }

  #newPool(origin: string): UndiciPool {
    return new Pool(origin, { ...this.#connectionOptions(), connections: this.#options.maxSockets });
  }

  #connectionOptions() {
    const { idleSocketMs, upstreamTimeoutMs } = this.#options;
    return {
      pipelining: 1,
      keepAliveTimeout: idleSocketMs,
      keepAliveMaxTimeout: idleSocketMs,
      connectTimeout: upstreamTimeoutMs,
      headersTimeout: upstreamTimeoutMs,
      bodyTimeout: upstreamTimeoutMs,
    };
  }

  #idle(ids: readonly string[]): boolean {
    for (const id of ids) {
      const state = this.#states.get(id);
      if (state !== undefined && state.inFlight > 0) return false;
    }
    return true;
  }

  #wakeWaiters(): void {
    for (const waiter of this.#waiters) {
      if (!this.#idle(waiter.ids)) continue;
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }

  #forgetIfIdle(state: BackendState): void {
    if (!state.retired || state.inFlight !== 0 || state.upgraded !== 0) return;
    if (this.#states.get(state.id) === state) this.#states.delete(state.id);
  }
}

/**
 * Idle connections close at once; busy ones once their request has finished.
 * The pool then refuses new requests, so nothing reaches a retired container
 * through it.
 */
function retirePool(pool: UndiciPool): void {
  if (!pool.closed && !pool.destroyed) pool.close().catch(ignore);
}

function ignore(): void {}
