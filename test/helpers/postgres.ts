// A throwaway PostgreSQL cluster for tests: initdb into a temp dir, the
// server on a free loopback port with password (scram) authentication, a
// fresh database per `createDatabase()`, stopped and removed by `stop()`.
// PostgreSQL refuses to run as root, so under root it runs as `nobody`.
// Its collation is ICU's en-US, like a typical production database, so that
// ordering the store leaves to the database's locale would show.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type ProcessHandle, runChecked, spawnProcess } from '../../src/exec/index.ts';
import { baseEnv } from './slipway.ts';

/** Debian's newest installed PostgreSQL (15 or later: the ICU options below), unless SLIPWAY_TEST_PG_BIN says. */
function binaries(): string {
  if (process.env.SLIPWAY_TEST_PG_BIN) return process.env.SLIPWAY_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .map(Number)
        .filter((v) => v >= 15)
    : [];
  return path.join(root, String(Math.max(15, ...versions)), 'bin');
}
const BIN = binaries();
const NOBODY = 65_534;
const USER = 'slipway';

export interface PostgresCluster {
  readonly port: number;
  /**
   * A new database, empty or a copy of `template` (a database of this cluster
   * no one is connected to); its `postgres://` URL, password included.
   */
  createDatabase(template?: string): Promise<string>;
  readonly password: string;
  /** Stops the server (every connection to it breaks), waits `downMs`, starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  if (!fs.existsSync(path.join(BIN, 'initdb')))
    return `PostgreSQL binaries not found in ${BIN} (.ci/run installs them)`;
  if (process.getuid?.() === 0 && !fs.existsSync('/usr/bin/setpriv')) return 'running as root without setpriv';
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The postgres server on `port`, once it accepts connections. */
async function launch(as: (argv: string[]) => string[], dir: string, port: number): Promise<ProcessHandle> {
  const log: string[] = [];
  let ready: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const server = spawnProcess(
    as([
      path.join(BIN, 'postgres'),
      '-D',
      path.join(dir, 'data'),
      '-k',
      dir,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      // A test cluster: durability is not what is under test.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ]),
    {
      env: baseEnv({ HOME: dir }),
      cwd: dir,
      onLine: (_stream, line) => {
        log.push(line);
        if (line.includes('ready to accept connections')) ready();
      },
    },
  );
  const exited = server.exited.then((exit) => {
    throw new Error(`postgres exited (${exit.code ?? exit.signal}):\n${log.join('\n')}`);
  });
  exited.catch(() => {});
  const timeout = new Promise<never>((_r, reject) =>
    setTimeout(() => reject(new Error(`postgres did not start:\n${log.join('\n')}`)), 30_000).unref(),
  );
  try {
    await Promise.race([started, exited, timeout]);
  } catch (err) {
    await server.stop(0);
    throw err;
  }
  return server;
}

/** A fast shutdown (SIGINT: SIGTERM would wait for every client to leave), SIGKILL after 10 s. */
async function shutDown(server: ProcessHandle): Promise<void> {
  server.signal('SIGINT');
  const stopped = await Promise.race([
    server.exited.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
  ]);
  if (!stopped) await server.stop(0);
}

export async function startPostgres(): Promise<PostgresCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-pg-'));
  const password = randomBytes(12).toString('hex');
  fs.writeFileSync(path.join(dir, 'pw'), `${password}\n`, { mode: 0o600 });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) for (const p of [dir, path.join(dir, 'pw')]) fs.chownSync(p, NOBODY, NOBODY);
  const as = (argv: string[]) =>
    asRoot ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv] : argv;

  let server: ProcessHandle | undefined;
  try {
    await runChecked(
      as([
        path.join(BIN, 'initdb'),
        `--pgdata=${path.join(dir, 'data')}`,
        `--username=${USER}`,
        `--pwfile=${path.join(dir, 'pw')}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale-provider=icu',
        '--icu-locale=en-US',
        '--locale=C.UTF-8',
        '--no-sync',
      ]),
      { env: baseEnv({ HOME: dir }), cwd: dir, timeoutMs: 60_000 },
    );
    const port = await freePort();
    server = await launch(as, dir, port);

    let running = server;
    let n = 0;
    const url = (database: string) => `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`;
    return {
      port,
      password,
      async createDatabase(template) {
        const name = `store_${process.pid}_${++n}`;
        const admin = new pg.Client({ connectionString: url('postgres') });
        await admin.connect();
        try {
          const copy = template === undefined ? '' : ` template ${pg.escapeIdentifier(template)} strategy file_copy`;
          await admin.query(`create database ${name}${copy}`);
        } finally {
          await admin.end();
        }
        return url(name);
      },
      async restart(downMs = 0) {
        await shutDown(running);
        await new Promise((resolve) => setTimeout(resolve, downMs));
        running = await launch(as, dir, port);
      },
      async stop() {
        await shutDown(running);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.stop(0);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

let shared: Promise<PostgresCluster> | undefined;
const databases = new Map<string, Promise<string>>();

/**
 * A database of a cluster shared by the whole test file, one per key (a
 * server's home), for SLIPWAY_TEST_STORE=postgres (helpers/slipway.ts, which
 * stops the cluster after the file's tests: stopSharedCluster).
 */
export function sharedDatabaseFor(key: string): Promise<string> {
  const reason = postgresSkipReason();
  if (reason !== undefined) throw new Error(`SLIPWAY_TEST_STORE=postgres: ${reason}`);
  shared ??= startPostgres();
  const cluster = shared;
  let url = databases.get(key);
  if (url === undefined) {
    url = cluster.then((c) => c.createDatabase());
    databases.set(key, url);
  }
  return url;
}

export async function stopSharedCluster(): Promise<void> {
  const cluster = shared;
  shared = undefined;
  databases.clear();
  await (await cluster?.catch(() => undefined))?.stop();
}
