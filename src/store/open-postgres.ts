// Opens the store on a PostgreSQL database (SLIPWAY_DATABASE_URL): a pg
// connection pool under kysely's PostgreSQL dialect, migrations applied (see
// migrations/index.ts for several servers starting at once), Store returned;
// with `exclusive`, the database claimed for this server first
// (database-claim.ts). The URL's password never appears in an error: only
// redactUrl's form does.

import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { UidRange } from '../core/types.ts';
import { createStore } from './create-store.ts';
import { claimDatabase } from './database-claim.ts';
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
  /** What an operator should know: a connection broke (the database restarted), the claim's state. */
  readonly warn?: (message: string) => void;
  /** This server alone uses the database while the store is open (database-claim.ts). */
  readonly exclusive?: boolean;
}

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

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  let release: (() => Promise<void>) | undefined;
  let db: Kysely<Database> | undefined;
  try {
    if (options.exclusive) {
      release = await claimDatabase({ url: options.url, connectTimeoutMs: CONNECT_TIMEOUT_MS, warn: options.warn });
    }
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: 'slipway',
    });
    // Without a listener, an idle connection's error would end the process; the pool replaces it.
    pool.on('error', (err) => options.warn?.(`a database connection broke: ${err.message}`));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrateToLatest(db, undefined, 'postgres');
    const store = createStore(db, { uids: options.uids, dialect: 'postgres' });
    const held = release;
    return held === undefined ? store : { ...store, close: () => store.close().finally(held) };
  } catch (err) {
    await db?.destroy();
    await release?.();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot open the store at ${redactUrl(options.url)}: ${why}`, { cause: err });
  }
}
