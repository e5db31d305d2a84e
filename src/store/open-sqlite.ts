// Opens the embedded SQLite store: a private file (0600 in a 0700 directory),
// WAL journaling, enforced foreign keys, migrations applied, Store returned.

import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDialect } from 'kysely';
import type { UidRange } from '../core/types.ts';
import { createStore } from './create-store.ts';
import { migrateToLatest } from './migrations/index.ts';
import type { Database } from './schema.ts';
import type { Store } from './types.ts';

export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:` for a throwaway store. */
  readonly file: string;
  /** The uids new apps get (default 20001-30000). */
  readonly uids?: UidRange;
}

/**
 * kysely's SQLite adapter says it has no transactional DDL, so its Migrator
 * would run a migration statement by statement and a crash could leave half a
 * schema. SQLite does roll back DDL, so we let each run happen in one transaction.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class SlipwaySqliteDialect extends SqliteDialect {
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

const IN_MEMORY = ':memory:';

/** Creates the file owner-only before SQLite touches it, and tightens an existing one. */
async function preparePrivateFile(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await (await open(file, 'a', 0o600)).close();
  await chmod(file, 0o600);
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  if (options.file !== IN_MEMORY) await preparePrivateFile(options.file);

  const sqlite = new SqliteDatabase(options.file);
  let db: Kysely<Database> | undefined;
  try {
    // SQLite creates the -wal and -shm files with the database file's mode, so they stay 0600 too.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SlipwaySqliteDialect({ database: sqlite }) });
    await migrateToLatest(db);
    return createStore(db, { uids: options.uids, dialect: 'sqlite' });
  } catch (err) {
    // kysely closes the database only once it has used it; close it ourselves otherwise.
    if (db !== undefined) await db.destroy();
    if (sqlite.open) sqlite.close();
    throw err;
  }
}
