// Recognising the few database errors the repositories turn into SlipwayErrors.
// We match the driver's constraint code, never the message and never "any
// error": better-sqlite3 reports `SQLITE_CONSTRAINT_*` codes, node-postgres
// the SQLSTATE (`23505`, `23503`), so the same checks serve both stores.

import type { Kysely, Transaction } from 'kysely';
import { SlipwayError } from '../core/errors.ts';

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

export function appNotFound(name: string): SlipwayError {
  return new SlipwayError('app.not_found', `app "${name}" not found`, { app: name });
}

/**
 * For tables whose only foreign key is `app`: a foreign-key failure on insert
 * means the app does not exist. Anything else is rethrown unchanged.
 */
export function rethrowMissingApp(err: unknown, app: string): never {
  if (isForeignKeyViolation(err)) throw appNotFound(app);
  throw err;
}

/**
 * Runs `fn` in a transaction, or in the one `db` already is (Store.transaction
 * hands repositories a transaction; kysely does not nest them).
 */
export function inTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<DB>) : db.transaction().execute(fn);
}
