// The embedded PostgreSQL cluster (docs/addons.md): initialised in the home on
// first use, started with the server (or adopted, when a server killed with
// SIGKILL left it running), restarted when it dies, stopped cleanly with the
// server. The postmaster runs in a session of its own (pg_ctl start), so a
// crash of the server never takes it down.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { SlipwayError } from '../../core/errors.ts';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import { type ServiceRunner, serviceRunner, serviceUser } from '../run-as-service-user.ts';
import {
  type ClusterSettings,
  clusterPaths,
  type ListenPlan,
  loadClusterSettings,
  writeServerConfig,
} from './cluster-files.ts';
import { findPostgresBin } from './find-postgres.ts';

/** Where the cluster's folder appears for the postgres user when the server is root. */
const MOUNT_POINT = '/run/slipway-postgresql';

export interface EmbeddedClusterOptions {
  /** `<home>/addons/postgresql`. */
  readonly dir: string;
  readonly listen: ListenPlan;
  readonly logger: Logger;
  /** How often the supervisor checks that the postmaster lives. */
  readonly checkEveryMs?: number;
}

export interface EmbeddedCluster {
  /** The port it listens on (chosen at the first start, kept). */
  readonly port: number;
  readonly host: string;
  /** Starts it (initialising it the first time); resolves once it accepts connections. */
  ready(): Promise<void>;
  /** Starts it only if it was ever initialised (apps may use it): called at server start. */
  startIfInitialised(): Promise<void>;
  /** The superuser's connection URL (for Slipway only). */
  adminUrl(): string;
  /** Stops supervising, then stops the postmaster (fast shutdown: clients are disconnected). */
  stop(): Promise<void>;
}

const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_MS = 30_000;

export async function openEmbeddedCluster(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
  const { dir, listen, logger } = options;
  const paths = clusterPaths(dir);
  const settings = await loadClusterSettings(dir, listen.host);
  let starting: Promise<void> | null = null;
  let supervisor: NodeJS.Timeout | null = null;
  let stopped = false;

  const start = async (): Promise<void> => {
    const tools = requireTools();
    const runner = serviceRunner(paths.cluster, tools.owner, MOUNT_POINT);
    if (!fs.existsSync(path.join(paths.data, 'PG_VERSION'))) await initialise(runner, tools.bin, paths, settings);
    fs.mkdirSync(paths.sockets, { recursive: true, mode: 0o700 });
    if (runner.owner !== null) fs.chownSync(paths.sockets, runner.owner.uid, runner.owner.gid);
    writeServerConfig(paths.data, settings, listen, `${runner.dir}/run`);
    const running = livePostmaster(paths.pidFile);
    if (running !== null) {
      process.kill(running, 'SIGHUP'); // reread the rules just written (listen address and port need a restart)
      logger.info({ postmaster: running, port: settings.port }, 'adopted the running embedded PostgreSQL cluster');
    } else {
      const began = performance.now();
      await pgCtl(runner, tools.bin, [
        'start',
        '-w',
        '-t',
        String(START_TIMEOUT_S),
        '-l',
        `${runner.dir}/postgresql.log`,
      ]);
      logger.info(
        { port: settings.port, host: listen.host, ms: Math.round(performance.now() - began) },
        'started the embedded PostgreSQL cluster',
      );
    }
    supervise();
  };

  const supervise = () => {
    if (supervisor !== null || stopped) return;
    supervisor = setInterval(() => {
      if (starting !== null || stopped || livePostmaster(paths.pidFile) !== null) return;
      logger.warn('the embedded PostgreSQL cluster is not running: starting it again');
      starting = start()
        .catch((err) => logger.error({ err }, 'could not start the embedded PostgreSQL cluster again'))
        .finally(() => {
          starting = null;
        });
    }, options.checkEveryMs ?? 2000);
    supervisor.unref();
  };

  const ready = (): Promise<void> => {
    if (stopped) return Promise.reject(unavailable('the server is stopping'));
    if (supervisor !== null && starting === null && livePostmaster(paths.pidFile) !== null) return Promise.resolve();
    starting ??= start().finally(() => {
      starting = null;
    });
    return starting;
  };

  return {
    port: settings.port,
    host: listen.host,
    ready,
    async startIfInitialised() {
      if (fs.existsSync(path.join(paths.data, 'PG_VERSION'))) await ready();
    },
    adminUrl: () =>
      `postgres://postgres:${encodeURIComponent(settings.password)}@localhost/postgres?host=${encodeURIComponent(paths.sockets)}&port=${settings.port}`,
    async stop() {
      stopped = true;
      if (supervisor !== null) clearInterval(supervisor);
      await starting?.catch(() => {});
      const pid = livePostmaster(paths.pidFile);
      if (pid === null) return;
      process.kill(pid, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (livePostmaster(paths.pidFile) === pid && Date.now() < deadline) await sleep(25);
      logger.info('stopped the embedded PostgreSQL cluster');
    },
  };
}

function requireTools(): { bin: string; owner: ReturnType<typeof postgresUserOrNull> } {
  const bin = findPostgresBin();
  if (bin === null)
    throw unavailable(
      'PostgreSQL is not installed on this host (install Debian\'s "postgresql" package), ' +
        'or set SLIPWAY_POSTGRES_URL to use an existing server',
    );
  return { bin, owner: postgresUserOrNull() };
}

function postgresUserOrNull() {
  const user = serviceUser('postgres');
  if (user === 'missing')
    throw unavailable('PostgreSQL refuses to run as root and this host has no "postgres" user to run it as');
  return user;
}

export function unavailable(why: string): SlipwayError {
  return new SlipwayError('addon.unavailable', `the PostgreSQL add-on is not available: ${why}`);
}

/** initdb into `cluster/data`, owned by the postgres user, with the superuser's password. */
async function initialise(
  runner: ServiceRunner,
  bin: string,
  paths: ReturnType<typeof clusterPaths>,
  settings: ClusterSettings,
): Promise<void> {
  // A data folder that an interrupted initdb left is started again from nothing.
  fs.rmSync(paths.cluster, { recursive: true, force: true });
  fs.mkdirSync(paths.cluster, { mode: 0o700 });
  if (runner.owner !== null) fs.chownSync(paths.cluster, runner.owner.uid, runner.owner.gid);
  const pwName = `initdb-${crypto.randomBytes(6).toString('hex')}`;
  const pwFile = path.join(paths.cluster, pwName);
  fs.writeFileSync(pwFile, `${settings.password}\n`, { mode: 0o600 });
  if (runner.owner !== null) fs.chownSync(pwFile, runner.owner.uid, runner.owner.gid);
  try {
    await runChecked(
      runner.argv(`${bin}/initdb`, [
        '-D',
        `${runner.dir}/data`,
        '-U',
        'postgres',
        `--pwfile=${runner.dir}/${pwName}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C.UTF-8',
      ]),
      { env: HELPER_ENV, timeoutMs: 120_000 },
    );
  } catch (err) {
    throw unavailable(`initdb failed: ${whyFailed(err)}`);
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

async function pgCtl(runner: ServiceRunner, bin: string, args: readonly string[]): Promise<void> {
  try {
    await runChecked(runner.argv(`${bin}/pg_ctl`, ['-D', `${runner.dir}/data`, ...args]), {
      env: HELPER_ENV,
      timeoutMs: (START_TIMEOUT_S + 5) * 1000,
    });
  } catch (err) {
    throw unavailable(`the cluster did not start (see its postgresql.log): ${whyFailed(err)}`);
  }
}

/** The postmaster's pid when one runs for this data folder, else null (a stale pid file, a reused pid). */
export function livePostmaster(pidFile: string): number | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n', 1)[0]);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm === 'postgres' ? pid : null;
  } catch {
    return null;
  }
}

/** runChecked's message without the command line (long, and the user did not type it). */
function whyFailed(err: unknown): string {
  const message = (err as Error).message;
  const at = message.lastIndexOf(' failed: ');
  return at < 0 ? message : message.slice(at + ' failed: '.length);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
