// The nginx router driver: Slipway keeps the route table and runs its own
// nginx master. The configuration names the apps and their hostnames only;
// when nginx's Lua module is installed, each app's backends live in a shared
// dict that Slipway replaces over a unix control socket, so a deployment,
// a scale or a rollback never reloads nginx. A change of hostnames (an app
// created or deleted, a domain added or removed) rewrites the configuration,
// checks it with `nginx -t` and reloads the master with SIGHUP. One update
// runs at a time; route changes made meanwhile are coalesced into the next.
//
// Without the Lua module every route change is a new configuration and a
// reload, which closes idle keep-alive client connections.
//
// Drain, live: the Lua balancer counts requests in flight per backend and
// worker; drain() polls that count until it is zero for the drained backends.
// Drain, by reload: backends removed by a route change are only reachable
// through the old workers, so drain() waits until the reload carrying the
// change has happened and every worker of an older generation has exited.
// Both are bounded by the timeout.
//
// Restarts: the master runs in its own process group, so it outlives a killed
// Slipway (or one stopped with SLIPWAY_KEEP_APPS_ON_EXIT: `detach`) and keeps
// serving its backends. The next start takes it over rather than starting
// another: its route changes are held until `startUpDone` (every app routed
// again), then pushed, and nginx is reloaded only if its hostnames changed.

import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { assertValidRoute } from '../check-route.ts';
import type { AppRoute, Router, TlsCertificate } from '../types.ts';
import { removeUnusedCertFiles, standInCertificate, writeCertFiles } from './cert-files.ts';
import {
  countInFlight,
  findLuaModules,
  pushCertificates,
  pushRouteTable,
  routeTableText,
  socketPathProblem,
} from './live-backends.ts';
import { LUA_MODULE_NAME, LUA_MODULE_SOURCE } from './lua-module.ts';
import {
  delay,
  freePort,
  isShuttingDown,
  leftMaster,
  type NginxMaster,
  startMaster,
  testConfig,
  workerPids,
} from './master-process.ts';
import { type LiveConfig, type NginxConfigOptions, renderNginxConfig, type TlsConfig } from './render-config.ts';

export interface NginxRouterOptions {
  readonly host: string;
  /** 0 picks a free port; `router.address.port` then tells which. */
  readonly port: number;
  /**
   * The HTTPS listener's port (0: a free one); none when undefined. Certificates
   * are files nginx reads at a graceful reload (docs/https.md).
   */
  readonly tlsPort?: number | undefined;
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
  /**
   * Push backends live through nginx's Lua module instead of reloading on
   * every route change. Default: whenever the module is installed; false
   * forces the reload-per-change fallback.
   */
  readonly liveBackends?: boolean;
  /** Where nginx's dynamic modules are. Default Debian's /usr/lib/nginx/modules. */
  readonly modulesDir?: string;
}

export interface NginxRouter extends Router {
  /** Resolves once every route change made so far is live in nginx. */
  settled(): Promise<void>;
  setCertificates(certificates: readonly TlsCertificate[]): void;
  setChallenge(token: string, keyAuthorization: string | null): void;
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
  const tlsPort =
    options.tlsPort === undefined ? undefined : options.tlsPort === 0 ? await freePort(options.host) : options.tlsPort;
  const certsDir = path.join(dir, 'certs');
  const challenges = new Map<string, string>();
  let tls: TlsConfig | undefined = tlsPort === undefined ? undefined : { port: tlsPort, certificates: [] };
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
  const pidFile = path.join(dir, 'nginx.pid');

  // Insertion order matters: on a hostname conflict the latest setRoute wins.
  const routes = new Map<string, AppRoute>();
  // A master a killed Slipway left keeps serving (its routes held until the start-up has routed every app again).
  const left = leftMaster(pidFile, file);
  let live = prepareLive(options, dir, left !== null);
  // With the Lua module, certificates are pushed live too (no reload per certificate).
  if (typeof live !== 'string' && tls !== undefined) {
    try {
      tls = { ...tls, pushed: await standInCertificate(dir) };
    } catch (err) {
      logger?.warn(
        { err },
        'nginx router: no stand-in certificate could be made (openssl); certificate changes will reload nginx',
      );
    }
  }
  let settings: NginxConfigOptions = { ...configOptions, live: typeof live === 'string' ? undefined : live, tls };
  let invalid = await checkInitial(binary, dir, file, settings);
  if (invalid !== null && settings.live !== undefined) {
    live = `nginx rejected its configuration with the Lua module: ${invalid}`;
    if (tls !== undefined) tls = { port: tls.port, certificates: [] };
    settings = { ...configOptions, tls };
    invalid = await checkInitial(binary, dir, file, settings);
  }
  if (invalid !== null) throw new Error(`nginx rejected the initial configuration: ${invalid}`);
  if (typeof live === 'string') logFallback(logger, live);
  const liveConfig = settings.live;
  if (left === null) fs.renameSync(next, file);
  const master: NginxMaster =
    left ?? (await startMaster({ binary, prefix: dir, file, host: options.host, port, logger }));
  if (left !== null) logger?.info({ pid: left.pid }, 'nginx router: serving on with the master an earlier run left');
  let held = left !== null;
  let current = new Set(workerPids(master.pid));
  let pushedCertificates: readonly TlsCertificate[] = [];
  let certificatesChanged = false;
  const push = async (): Promise<void> => {
    if (liveConfig === undefined) return;
    await pushRouteTable(liveConfig.controlSocket, await routeTableText(routes));
    if (!certificatesChanged) return;
    certificatesChanged = false;
    try {
      await pushCertificates(liveConfig.controlSocket, pushedCertificates);
    } catch (err) {
      certificatesChanged = true; // pushed again at the retry
      throw err;
    }
  };
  try {
    if (!held) await push(); // the full table, before the router counts as started
  } catch (err) {
    await master.stop(5_000);
    throw err;
  }

  let wanted = 0; // generation of the route table
  let applied = 0; // generation nginx serves (or gave up on)
  let reloading = false;
  const waiters: { generation: number; resolve: () => void }[] = [];

  let liveText = fs.readFileSync(file, 'utf8');
  const updateOnce = async (): Promise<void> => {
    const generation = wanted;
    // Backends first: a new app's server block must find them when it appears.
    await push();
    const text = renderNginxConfig(routes, { ...settings, tls, challenges });
    // A reload closes idle client connections: never reload for nothing.
    if (text !== liveText) await reload(text);
    removeUnusedCertFiles(certsDir, tls);
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
    liveText = text;
    const before = new Set(workerPids(master.pid));
    process.kill(master.pid, 'SIGHUP');
    const fresh = await waitForNewWorkers(master.pid, before);
    if (fresh.length === 0) logger?.error('nginx did not start new workers after a reload');
    else current = new Set(fresh);
  };
  const schedule = (): void => {
    wanted++;
    if (reloading || held) return; // the running loop (or the end of the hold) picks the change up
    reloading = true;
    void (async () => {
      try {
        while (applied < wanted && !closing) await updateOnce();
      } catch (err) {
        logger?.error({ err }, 'updating nginx failed; retrying');
      } finally {
        reloading = false;
        if (applied < wanted && !closing) setTimeout(() => schedule(), 100); // retry what is left
      }
    })();
  };
  const settled = (): Promise<void> => {
    if (applied >= wanted || held) return Promise.resolve();
    return new Promise((resolve) => waiters.push({ generation: wanted, resolve }));
  };

  let closing: Promise<void> | undefined;
  return {
    address: { host: options.host, port },
    tlsAddress: tlsPort === undefined ? undefined : { host: options.host, port: tlsPort },
    setChallenge(token: string, keyAuthorization: string | null): void {
      // RFC 8555 tokens and key authorizations are base64url (and one dot): nothing nginx would read as syntax.
      if (
        !/^[A-Za-z0-9_-]+$/.test(token) ||
        (keyAuthorization !== null && !/^[A-Za-z0-9_.-]+$/.test(keyAuthorization))
      ) {
        logger?.warn({ token }, 'nginx router: an ACME challenge with unexpected characters was not installed');
        return;
      }
      if (keyAuthorization === null) challenges.delete(token);
      else challenges.set(token, keyAuthorization);
      schedule();
    },
    setCertificates(certificates: readonly TlsCertificate[]): void {
      if (tls?.pushed !== undefined) {
        pushedCertificates = certificates.map((c) => ({ hostnames: [...c.hostnames], cert: c.cert, key: c.key }));
        certificatesChanged = true;
        schedule();
        return;
      }
      if (tlsPort === undefined) return;
      tls = {
        port: tlsPort,
        certificates: certificates.map((c) => ({ hostnames: [...c.hostnames], ...writeCertFiles(certsDir, c) })),
      };
      schedule();
    },
    setRoute(app: string, route: AppRoute): void {
      assertValidRoute(app, route);
      routes.delete(app);
      routes.set(app, {
        hostnames: [...route.hostnames],
        backends: route.backends.map((b) => ({ id: b.id, host: b.host, port: b.port })),
        forceHttps: route.forceHttps === true,
        hsts: route.hsts === true,
      });
      schedule();
    },
    removeRoute(app: string): void {
      if (routes.delete(app)) schedule();
    },
    settled,
    startUpDone(): void {
      if (!held) return;
      held = false;
      schedule();
    },
    async drain(backendIds: readonly string[], timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const timedOut = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
      if ((await Promise.race([settled(), timedOut])) === 'timeout') return;
      if (liveConfig === undefined) {
        // Every worker not of the newest generation may still hold requests to the drained backends.
        while (Date.now() < deadline && workerPids(master.pid).some((pid) => !current.has(pid))) await delay(20);
        return;
      }
      while (backendIds.length > 0 && Date.now() < deadline && !closing) {
        try {
          if ((await countInFlight(liveConfig.controlSocket, backendIds, workerPids(master.pid))) <= 0) return;
        } catch (err) {
          logger?.warn({ err }, 'nginx did not tell how many requests are in flight');
        }
        await delay(20);
      }
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await master.stop(5_000);
        for (const waiter of waiters.splice(0)) waiter.resolve();
      })();
      return closing;
    },
    detach(): Promise<void> {
      closing ??= (async () => {
        // What it serves on is the latest table (a timer that does not hold the stopping process).
        await Promise.race([settled(), new Promise((resolve) => setTimeout(resolve, RELOAD_WAIT_MS).unref())]);
        master.release();
        for (const waiter of waiters.splice(0)) waiter.resolve();
      })();
      return closing;
    },
  };
}

/**
 * The live-backend settings (Lua module, control socket in a directory only
 * its owner can enter), or why nginx will be reloaded on every route change.
 */
function prepareLive(options: NginxRouterOptions, dir: string, masterLeft: boolean): LiveConfig | string {
  if (options.liveBackends === false) return 'live backends were turned off';
  const found = findLuaModules(options.modulesDir);
  if ('missing' in found) return `nginx's Lua module is not installed: ${found.missing}`;
  const controlDir = path.join(dir, 'control');
  const controlSocket = path.join(controlDir, 'control.sock');
  const tooLong = socketPathProblem(controlSocket);
  if (tooLong !== null) return tooLong;
  fs.mkdirSync(controlDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(controlDir, 0o700);
  // Left by an nginx that was killed; a master still running listens on it.
  if (!masterLeft) fs.rmSync(controlSocket, { force: true });
  const luaDir = path.join(dir, 'lua');
  fs.mkdirSync(luaDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(luaDir, `${LUA_MODULE_NAME}.lua`), LUA_MODULE_SOURCE, { mode: 0o600 });
  return { modules: found.modules, luaDir, controlSocket };
}

function logFallback(logger: Logger | undefined, why: string): void {
  logger?.warn(
    { reason: why },
    'nginx router: every route change (each deployment, scale or rollback) will reload nginx; a reload closes ' +
      'idle keep-alive client connections, so a client reusing one at that moment can see its request fail',
  );
}

/** Writes the configuration for an empty route table to nginx.conf.next and runs `nginx -t` on it. */
async function checkInitial(
  binary: string,
  dir: string,
  file: string,
  settings: NginxConfigOptions,
): Promise<string | null> {
  const next = `${file}.next`;
  fs.writeFileSync(next, renderNginxConfig(new Map(), settings), { mode: 0o600 });
  return testConfig(binary, dir, next);
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
