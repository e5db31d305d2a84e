// The server process's side of the router worker processes (docs/router.md,
// "Worker processes"): it forks them, hands each the whole route table and
// the listening socket once its code is loaded, pushes every route change
// with a generation number, aggregates drain() and relays access entries and
// log lines. A worker that dies is logged and started again with backoff;
// the server process keeps serving meanwhile, as do the other workers.

import fs from 'node:fs';
import type { Server } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { HELPER_ENV, type ProcessHandle, spawnProcess } from '../../../exec/index.ts';
import type { AppRoute, TlsCertificate } from '../../types.ts';
import type { AccessHook } from '../proxy-context.ts';
import type { FromWorker, ToWorker, WorkerSettings } from './worker-protocol.ts';

export interface RouterWorkersOptions {
  /** Worker processes to run besides the server process. */
  readonly count: number;
  /** The listening socket every worker accepts on. */
  readonly listener: Server;
  /** The HTTPS listening socket, when the router has one, and its certificates now (for a worker that starts). */
  readonly tls?: { readonly listener: Server; readonly certificates: () => readonly TlsCertificate[] } | undefined;
  readonly settings: Omit<WorkerSettings, 'access' | 'debug'>;
  /** The whole table, oldest-installed first, for a worker that starts. */
  readonly routes: () => Iterable<readonly [string, AppRoute]>;
  readonly logger?: Logger | undefined;
  readonly onAccess?: AccessHook | undefined;
  /** First restart delay after a worker died; doubles while it keeps dying. Default 100 ms. */
  readonly restartBackoffMs?: number;
  /** A worker that has not applied a route change after this long is killed (and restarted). Default 5 s. */
  readonly ackTimeoutMs?: number;
}

export type RouteChange =
  | { readonly t: 'set'; app: string; route: AppRoute }
  | { readonly t: 'remove'; app: string }
  | { readonly t: 'challenge'; token: string; keyAuthorization: string | null }
  | { readonly t: 'alpn'; hostname: string; certificate: Pick<TlsCertificate, 'cert' | 'key'> | null }
  | { readonly t: 'certs'; certificates: readonly TlsCertificate[] };

export interface RouterWorkers {
  /** Sends a route change to every worker that accepts connections. */
  publish(change: RouteChange): void;
  /** Resolves once every worker that accepts connections applied every change published so far. */
  settled(): Promise<void>;
  /** Resolves once no worker has a request in flight to these backends, or after `timeoutMs`. */
  drain(backendIds: readonly string[], timeoutMs: number): Promise<void>;
  /** Resolves once every worker accepts connections (at once when they all do). */
  listening(): Promise<void>;
  /** Process ids of the running workers. */
  pids(): number[];
  close(): Promise<void>;
}

interface Slot {
  readonly index: number;
  handle: ProcessHandle | null;
  /** True once the worker got the table and the socket: it may accept connections. */
  live: boolean;
  /** True once it does. */
  listening: boolean;
  acked: number;
  startedAt: number;
  backoffMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  readonly drains: Map<number, () => void>;
}

interface SettleWaiter {
  readonly gen: number;
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

const MAX_BACKOFF_MS = 10_000;
/** A worker that ran this long before dying restarts after the first backoff again. */
const STABLE_MS = 10_000;
const CLOSE_GRACE_MS = 2_000;

export function startRouterWorkers(options: RouterWorkersOptions): RouterWorkers {
  const logger = options.logger;
  const firstBackoffMs = options.restartBackoffMs ?? 100;
  const ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
  const settings: WorkerSettings = {
    ...options.settings,
    access: options.onAccess !== undefined,
    debug: logger?.isLevelEnabled('debug') ?? false,
  };
  const argv = workerArgv();
  let gen = 0;
  let nextDrainId = 0;
  let closing = false;
  const waiters = new Set<SettleWaiter>();
  let listeners: (() => void)[] = [];
  const allListening = () => slots.every((slot) => slot.listening);
  const slots: Slot[] = Array.from({ length: options.count }, (_, i) => ({
    index: i + 1,
    handle: null,
    live: false,
    listening: false,
    acked: -1,
    startedAt: 0,
    backoffMs: firstBackoffMs,
    restartTimer: undefined,
    drains: new Map(),
  }));

  const lagging = (slot: Slot, target: number) => slot.live && slot.acked < target;
  const wakeWaiters = () => {
    for (const waiter of waiters) {
      if (slots.some((slot) => lagging(slot, waiter.gen))) continue;
      clearTimeout(waiter.timer);
      waiters.delete(waiter);
      waiter.resolve();
    }
  };

  const onMessage = (slot: Slot, message: FromWorker) => {
    switch (message.t) {
      case 'loaded': {
        const ipc = slot.handle?.ipc;
        if (closing || !ipc) return;
        const init: ToWorker = { t: 'init', gen, settings, routes: [...options.routes()] };
        ipc.send(init, options.listener);
        if (options.tls !== undefined)
          ipc.send(
            { t: 'tls', gen, certificates: options.tls.certificates() } satisfies ToWorker,
            options.tls.listener,
          );
        slot.live = true;
        return;
      }
      case 'listening':
      case 'ack':
        if (message.gen > slot.acked) slot.acked = message.gen;
        if (waiters.size !== 0) wakeWaiters();
        if (message.t === 'listening') {
          slot.listening = true;
          logger?.debug({ routerWorker: slot.index, pid: slot.handle?.pid }, 'router worker listening');
          if (allListening()) for (const resolve of listeners.splice(0)) resolve();
        }
        return;
      case 'drained':
        slot.drains.get(message.id)?.();
        return;
      case 'access':
        for (const entry of message.entries) options.onAccess?.(entry);
        return;
      case 'log':
        logger?.[message.level]({ ...message.fields, routerWorker: slot.index }, message.msg);
        return;
    }
  };

  const spawn = (slot: Slot) => {
    slot.restartTimer = undefined;
    if (closing) return;
    const handle = spawnProcess(argv, {
      env: { ...HELPER_ENV },
      ipc: true,
      onLine: (stream, line) => logger?.warn({ routerWorker: slot.index, stream, line }, 'router worker output'),
    });
    slot.handle = handle;
    slot.live = false;
    slot.listening = false;
    slot.acked = -1;
    slot.startedAt = Date.now();
    handle.ipc?.onMessage((message) => onMessage(slot, message as FromWorker));
    void handle.exited.then((exit) => onExit(slot, handle, exit.code, exit.signal ?? exit.spawnError ?? null));
  };

  const onExit = (slot: Slot, handle: ProcessHandle, code: number | null, reason: string | null) => {
    if (slot.handle !== handle) return;
    slot.handle = null;
    slot.live = false;
    slot.listening = false;
    for (const done of slot.drains.values()) done();
    slot.drains.clear();
    wakeWaiters();
    if (closing) return;
    const lived = Date.now() - slot.startedAt;
    slot.backoffMs = lived >= STABLE_MS ? firstBackoffMs : slot.backoffMs;
    logger?.error(
      { routerWorker: slot.index, pid: handle.pid, code, signal: reason, restartInMs: slot.backoffMs },
      'router worker exited; starting it again',
    );
    slot.restartTimer = setTimeout(() => spawn(slot), slot.backoffMs);
    slot.backoffMs = Math.min(slot.backoffMs * 2, MAX_BACKOFF_MS);
  };

  for (const slot of slots) spawn(slot);

  return {
    publish(change) {
      gen++;
      const message: ToWorker = { ...change, gen };
      for (const slot of slots) if (slot.live) slot.handle?.ipc?.send(message);
    },
    settled() {
      const target = gen;
      if (!slots.some((slot) => lagging(slot, target))) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          // A worker that cannot keep up with the table must not serve a stale one.
          for (const slot of slots) {
            if (!lagging(slot, target)) continue;
            logger?.error(
              { routerWorker: slot.index, pid: slot.handle?.pid },
              'router worker did not apply a route change',
            );
            void slot.handle?.stop(0);
          }
        }, ackTimeoutMs);
        waiters.add({ gen: target, resolve, timer });
      });
    },
    drain(backendIds, timeoutMs) {
      const pending = slots
        .filter((slot) => slot.live)
        .map(
          (slot) =>
            new Promise<void>((resolve) => {
              const id = nextDrainId++;
              // A worker that does not answer in time is not waited for.
              const timer = setTimeout(() => finish(), timeoutMs + 1_000);
              const finish = () => {
                clearTimeout(timer);
                slot.drains.delete(id);
                resolve();
              };
              slot.drains.set(id, finish);
              slot.handle?.ipc?.send({ t: 'drain', id, backendIds, timeoutMs } satisfies ToWorker);
            }),
        );
      return Promise.all(pending).then(() => {});
    },
    listening() {
      if (allListening() || closing) return Promise.resolve();
      return new Promise((resolve) => listeners.push(resolve));
    },
    pids() {
      return slots.flatMap((slot) => (slot.handle?.pid === undefined ? [] : [slot.handle.pid]));
    },
    async close() {
      closing = true;
      for (const resolve of listeners) resolve();
      listeners = [];
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve();
      }
      waiters.clear();
      await Promise.all(
        slots.map(async (slot) => {
          clearTimeout(slot.restartTimer);
          const handle = slot.handle;
          if (handle === null) return;
          handle.ipc?.send({ t: 'close' } satisfies ToWorker);
          const grace = setTimeout(() => void handle.stop(0), CLOSE_GRACE_MS);
          await handle.exited;
          clearTimeout(grace);
        }),
      );
    },
  };
}

/**
 * How to run a worker, from where this module runs: the bundle's own entry
 * (dist/cli/bundle), the compiled file (dist/), or the TypeScript source
 * through tsx, as bin/slipway does.
 */
function workerArgv(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const file of ['router-worker.js', 'worker-process.js']) {
    const entry = path.join(here, file);
    if (fs.existsSync(entry)) return [process.execPath, entry];
  }
  const tsx = path.resolve(here, '../../../../node_modules/tsx/dist/loader.mjs');
  return [process.execPath, '--import', tsx, path.join(here, 'worker-process.ts')];
}
