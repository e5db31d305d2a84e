// The nginx router driver: Slipway keeps the route table, writes it out as an
// nginx configuration, checks it with `nginx -t` and reloads its own nginx
// master with SIGHUP. One reload runs at a time; route changes made meanwhile
// are coalesced into the next one.
//
// Drain: a reload makes nginx start new workers with the new configuration
// and ask the old ones to quit gracefully (finish in-flight requests, close
// idle keep-alive connections). Backends removed by a route change are only
// reachable through those old workers, so drain() waits until the reload
// carrying the change has happened and every worker of an older generation
// has exited, bounded by the timeout.

import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { assertValidRoute } from '../check-route.ts';
import type { AppRoute, Router } from '../types.ts';
import {
  delay,
  freePort,
  isShuttingDown,
  type NginxMaster,
  startMaster,
  stopStaleMaster,
  testConfig,
  workerPids,
} from './master-process.ts';
import { type NginxConfigOptions, renderNginxConfig } from './render-config.ts';

export interface NginxRouterOptions {
  readonly host: string;
  /** 0 picks a free port; `router.address.port` then tells which. */
  readonly port: number;
  readonly domain: string;
  /** Working directory (config, pid file, temp files): `$SLIPWAY_HOME/router/nginx`. */
  readonly dir: string;
  readonly logger?: Logger;
  /** Default `nginx`, looked up on the helper PATH (which includes /usr/sbin). */
  readonly binary?: string;
  /** Worker processes; default `auto` (one per core). */
  readonly workers?: number | 'auto';
  /** Idle time allowed on a backend connection. Default 60 s. */
  readonly upstreamTimeoutMs?: number;
  /** How long old workers may finish in-flight requests after a reload. Default 60 s. */
  readonly shutdownTimeoutMs?: number;
  /** Idle keep-alive connections kept per app and worker. Default 64. */
  readonly keepalivePerApp?: number;
}

export interface NginxRouter extends Router {
  /** Resolves once every route change made so far is live in nginx. */
  settled(): Promise<void>;
}

const RELOAD_WAIT_MS = 15_000;

export async function startNginxRouter(options: NginxRouterOptions): Promise<NginxRouter> {
  const logger = options.logger;
  const binary = options.binary ?? 'nginx';
  const dir = path.resolve(options.dir);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    fs.mkdirSync(path.join(dir, 'temp', sub), { recursive: true, mode: 0o700 });
  }
  const port = options.port === 0 ? await freePort(options.host) : options.port;
  const configOptions: NginxConfigOptions = {
    dir,
    listenHost: options.host,
    listenPort: port,
    domain: options.domain,
    workers: options.workers ?? 'auto',
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? 60_000,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 60_000,
    keepalivePerApp: options.keepalivePerApp ?? 64,
  };
  const file = path.join(dir, 'nginx.conf');
  const next = path.join(dir, 'nginx.conf.next');

  // Insertion order matters: on a hostname conflict the latest setRoute wins.
  const routes = new Map<string, AppRoute>();
  fs.writeFileSync(file, renderNginxConfig(routes, configOptions), { mode: 0o600 });
  await stopStaleMaster(path.join(dir, 'nginx.pid'), file);
  const invalid = await testConfig(binary, dir, file);
  if (invalid !== null) throw new Error(`nginx rejected the initial configuration: ${invalid}`);
  const master: NginxMaster = await startMaster({ binary, prefix: dir, file, host: options.host, port, logger });
  let current = new Set(workerPids(master.pid));

  let wanted = 0; // generation of the route table
  let applied = 0; // generation nginx serves (or gave up on)
  let reloading = false;
  const waiters: { generation: number; resolve: () => void }[] = [];

  let live = fs.readFileSync(file, 'utf8');
  const reloadOnce = async (): Promise<void> => {
    const generation = wanted;
    const text = renderNginxConfig(routes, configOptions);
    // A reload closes idle client connections: never reload for nothing.
    if (text !== live) await reload(text);
    applied = generation;
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i];
      if (waiter !== undefined && waiter.generation <= applied) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };
  const reload = async (text: string): Promise<void> => {
    fs.writeFileSync(next, text, { mode: 0o600 });
    const complaint = await testConfig(binary, dir, next);
    if (complaint !== null) {
      logger?.error({ nginx: complaint }, 'nginx rejected the new route table; it keeps serving the previous one');
      return;
    }
    fs.renameSync(next, file);
    live = text;
    const before = new Set(workerPids(master.pid));
    process.kill(master.pid, 'SIGHUP');
    const fresh = await waitForNewWorkers(master.pid, before);
    if (fresh.length === 0) logger?.error('nginx did not start new workers after a reload');
    else current = new Set(fresh);
  };
  const schedule = (): void => {
    wanted++;
    if (reloading) return; // the running loop picks the change up
    reloading = true;
    void (async () => {
      try {
        while (applied < wanted && !closing) await reloadOnce();
      } catch (err) {
        logger?.error({ err }, 'nginx reload failed');
      } finally {
        reloading = false;
        if (applied < wanted && !closing) setTimeout(() => schedule(), 100); // retry what is left
      }
    })();
  };
  const settled = (): Promise<void> => {
    if (applied >= wanted) return Promise.resolve();
    return new Promise((resolve) => waiters.push({ generation: wanted, resolve }));
  };

  let closing: Promise<void> | undefined;
  return {
    address: { host: options.host, port },
    setRoute(app: string, route: AppRoute): void {
      assertValidRoute(app, route);
      routes.delete(app);
      routes.set(app, {
        hostnames: [...route.hostnames],
        backends: route.backends.map((b) => ({ id: b.id, host: b.host, port: b.port })),
      });
      schedule();
    },
    removeRoute(app: string): void {
      if (routes.delete(app)) schedule();
    },
    settled,
    async drain(_backendIds: readonly string[], timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const timedOut = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
      if ((await Promise.race([settled(), timedOut])) === 'timeout') return;
      // Every worker not of the newest generation may still hold requests to the drained backends.
      while (Date.now() < deadline && workerPids(master.pid).some((pid) => !current.has(pid))) await delay(20);
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await master.handle.stop(5_000);
        for (const waiter of waiters.splice(0)) waiter.resolve();
      })();
      return closing;
    },
  };
}

/**
 * After a SIGHUP: the workers the master started for the new configuration,
 * once every older worker has stopped accepting connections (it then
 * renames itself "worker process is shutting down", or is gone).
 */
async function waitForNewWorkers(masterPid: number, before: ReadonlySet<number>): Promise<number[]> {
  const deadline = Date.now() + RELOAD_WAIT_MS;
  while (Date.now() < deadline) {
    const pids = workerPids(masterPid);
    const fresh = pids.filter((pid) => !before.has(pid));
    if (fresh.length > 0 && pids.every((pid) => !before.has(pid) || isShuttingDown(pid))) return fresh;
    await delay(3);
  }
  return workerPids(masterPid).filter((pid) => !before.has(pid));
}
