// Per-backend state shared by every route that points at a container: its
// keep-alive agent, the in-flight counts that drain() waits on, and the
// retirement of backends no route references any more, so that pooled
// sockets to a container being stopped are never reused.

import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Backend } from '../types.ts';

export interface PoolOptions {
  readonly maxSockets: number;
  readonly maxFreeSockets: number;
  /**
   * Idle pooled sockets are closed after this long. Kept below Node's default
   * server keepAliveTimeout (5 s) so the backend rarely closes a socket at the
   * moment we pick it from the pool.
   */
  readonly idleSocketMs: number;
}

/** Once retired, a socket is closed as soon as its request ends instead of going back to the pool. */
class RetirableAgent extends http.Agent {
  retired = false;

  // Node destroys the socket when this returns false; @types/node types the
  // base method as void although it returns the boolean, hence Boolean().
  override keepSocketAlive(socket: Duplex): boolean {
    return !this.retired && Boolean(super.keepSocketAlive(socket));
  }
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
    readonly agent: RetirableAgent,
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
        existing.retired = false;
        existing.agent.retired = false;
        return existing;
      }
      // Same id at a new address (not expected from the pipeline): the old
      // agent's sockets close as their requests end; its counts are dropped.
      retireAgent(existing.agent);
    }
    const { maxSockets, maxFreeSockets, idleSocketMs } = this.#options;
    const agent = new RetirableAgent({ keepAlive: true, maxSockets, maxFreeSockets, timeout: idleSocketMs });
    const state = new BackendState(backend.id, backend.host, backend.port, agent);
    this.#states.set(backend.id, state);
    return state;
  }

  /** Retires every backend whose id is not in `live`. */
  retireAllExcept(live: ReadonlySet<string>): void {
    for (const state of this.#states.values()) {
      if (state.retired || live.has(state.id)) continue;
      state.retired = true;
      retireAgent(state.agent);
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

  /** Destroys every pooled socket and releases pending drains. */
  close(): void {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#waiters.clear();
    for (const state of this.#states.values()) {
      state.agent.retired = true;
      state.agent.destroy();
    }
    this.#states.clear();
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

function retireAgent(agent: RetirableAgent): void {
  agent.retired = true;
  for (const sockets of Object.values(agent.freeSockets)) {
    if (sockets === undefined) continue;
    for (const socket of sockets) socket.destroy();
  }
}
