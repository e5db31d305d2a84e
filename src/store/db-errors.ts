// Recognising the few database errors the repositories turn into SlipwayErrors.
// We match the driver's constraint code, never "any error": better-sqlite3
// reports `SQLITE_CONSTRAINT_*` codes, node-postgres the SQLSTATE (`23505`,
// `23503`), so the same checks serve both stores. The one exception: the few
// connection errors node-postgres raises without a code.

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

/** A connection that could not open or broke (the system's errno codes). */
const CONNECTION_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/** SQLSTATEs of a database going away: shutdown, crash, still starting, out of connections. */
const UNAVAILABLE_SQLSTATE = new Set(['57P01', '57P02', '57P03', '53300']);
/** node-postgres reports a connection that ended or timed out with these messages and no code. */
const PG_CONNECTION_LOST = /^(Connection terminated|timeout exceeded when trying to connect)/;

/** The database server cannot be reached now; the request may succeed once it is back. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = codeOf(err);
  if (typeof code === 'string') {
    return CONNECTION_ERRNO.has(code) || UNAVAILABLE_SQLSTATE.has(code) || /^08[0-9A-Z]{3}$/.test(code);
  }
  return err instanceof Error && PG_CONNECTION_LOST.test(err.message);
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
