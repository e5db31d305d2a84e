// Opens the store on a PostgreSQL database (SLIPWAY_DATABASE_URL): a pg
// connection pool under kysely's PostgreSQL dialect, migrations applied (see
// migrations/index.ts for several servers starting at once), Store returned.
// The URL's password never appears in an error: only redactUrl's form does.
//
// One control plane per database: a server's start-up takes over what it
// finds (it aborts unfinished deployments, forgets container records), so a
// second server must not run beside the first. With `exclusive`, the store
// holds a session advisory lock on a connection of its own for as long as it
// is open; another server's open fails, naming the holder. The database drops
// the lock when that connection dies: a crashed host's claim lapses within
// about 30 s (the keepalive settings below), so another host can take over.

import os from 'node:os';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { UidRange } from '../core/types.ts';
import { createStore } from './create-store.ts';
import { migrateToLatest } from './migrations/index.ts';
import type { Database } from './schema.ts';
import type { Store } from './types.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq's URL form, `?host=/socket/dir` included). */
  readonly url: string;
  /** The uids new apps get (default 20001-30000). */
  readonly uids?: UidRange;
  /** Connections the pool keeps at most (default 10). */
  readonly maxConnections?: number;
  /** An idle connection that broke (the database restarted): the pool drops it and opens another. */
  readonly onIdleError?: (err: Error) => void;
  /** This server alone uses the database while the store is open (see above). */
  readonly exclusive?: boolean;
}

/** The advisory lock key of "a Slipway server runs on this database" (any fixed 64-bit number). */
const SERVER_LOCK = '7215447315316061533';
const LOCK_APPLICATION = 'slipway server';

/** How long opening a connection may take before it fails (pg's default is to wait forever). */
const CONNECT_TIMEOUT_MS = 10_000;

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the database URL';
  }
}

/** The lock's own connection, or a clear error naming the server that holds it. */
async function claimDatabase(options: PostgresStoreOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: `${LOCK_APPLICATION} on ${os.hostname()}`.slice(0, 63),
    keepAlive: true,
  });
  client.on('error', (err) =>
    options.onIdleError?.(
      new Error(`the connection holding this server's claim on the database broke: ${err.message}`, { cause: err }),
    ),
  );
  await client.connect();
  try {
    // The database notices a vanished client within ~30 s instead of the system's 2 hours.
    await client.query('set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 4');
    const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [
      SERVER_LOCK,
    ]);
    if (rows[0]?.ok) return client;
    const holder = await client.query<{ name: string; since: string; address: string | null }>(
      `select a.application_name as name, to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as since,
              host(a.client_addr) as address
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and (l.classid::bigint << 32 | l.objid::bigint) = $1::bigint`,
      [SERVER_LOCK],
    );
    const who = holder.rows[0];
    const by =
      who === undefined ? '' : ` (${who.name}${who.address ? `, from ${who.address}` : ''}, since ${who.since})`;
    throw new Error(
      `another Slipway server is using this database${by}: one server runs per database, stop that one first`,
    );
  } catch (err) {
    await client.end();
    throw err;
  }
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  let claim: pg.Client | undefined;
  let db: Kysely<Database> | undefined;
  try {
    if (options.exclusive) claim = await claimDatabase(options);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: 'slipway',
    });
    // Without a listener, an idle connection's error would end the process.
    pool.on('error', (err) => options.onIdleError?.(err));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrateToLatest(db, undefined, 'postgres');
    const store = createStore(db, { uids: options.uids, dialect: 'postgres' });
    const held = claim;
    return held === undefined ? store : { ...store, close: () => store.close().finally(() => held.end()) };
  } catch (err) {
    await db?.destroy();
    await claim?.end();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot open the store at ${redactUrl(options.url)}: ${why}`, { cause: err });
  }
}
