// Per-backend state shared by every route that points at a container: its
// keep-alive connection pool, the in-flight counts that drain() waits on, and
// the retirement of backends no route references any more, so that pooled
// connections to a container being stopped are never reused.

import { performance } from 'node:perf_hooks';
import type { Backend } from '../../types.ts';
import { type PoolOptions, UpstreamPool } from './upstream-pool.ts';

export class BackendState {
  /** Plain HTTP exchanges not yet finished; drain() waits for these. */
  inFlight = 0;
  /** Open upgraded tunnels (WebSockets); drain() does not wait for these. */
  upgraded = 0;
  retired = false;
  /**
   * Until when (performance.now()) round-robin passes this backend over: it refused a
   * connection or could not be reached (a crashed container, a lost node). 0: never.
   */
  unreachableUntil = 0;

  constructor(
    readonly id: string,
    readonly host: string,
    readonly port: number,
    readonly pool: UpstreamPool,
  ) {}

  /** It refused a connection or could not be reached: pass it over for a while. */
  markUnreachable(): void {
    this.unreachableUntil = performance.now() + UNREACHABLE_HOLD_MS;
  }
}

/** How long round-robin passes over a backend that refused or could not be reached. */
const UNREACHABLE_HOLD_MS = 10_000;

interface DrainWaiter {
  readonly ids: readonly string[];
  readonly resolve: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class BackendPool {
  readonly #options: PoolOptions;
  readonly #states = new Map<string, BackendState>();
  readonly #waiters = new Set<DrainWaiter>();
  /** Closes idle connections past their limit; runs while any backend exists. */
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** The state for a backend about to be routed to, created or revived. */
  acquire(backend: Backend): BackendState {
    const existing = this.#states.get(backend.id);
    if (existing !== undefined) {
      if (existing.host === backend.host && existing.port === backend.port) {
        if (existing.retired) {
          existing.retired = false;
          existing.pool.revive();
        }
        return existing;
      }
      // Same id at a new address (not expected from the pipeline): the old
      // pool's connections close as their requests end; its counts are dropped.
      existing.pool.retire();
    }
    const pool = new UpstreamPool(backend.host, backend.port, this.#options);
    const state = new BackendState(backend.id, backend.host, backend.port, pool);
    this.#states.set(backend.id, state);
    const sweepMs = Math.max(10, Math.min(1000, this.#options.idleSocketMs / 4));
    this.#sweeper ??= setInterval(() => this.#sweep(), sweepMs).unref();
    return state;
  }

  /** Retires every backend whose id is not in `live`. */
  retireAllExcept(live: ReadonlySet<string>): void {
    for (const state of this.#states.values()) {
      if (state.retired || live.has(state.id)) continue;
      state.retired = true;
      state.pool.retire();
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
      state.pool.destroy();
    }
    this.#states.clear();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const state of this.#states.values()) state.pool.sweep(now);
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
