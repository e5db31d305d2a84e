// What differs between the two stores beyond what kysely compiles for us:
// the column types a migration declares, and the locks a repository takes.
// SQLite runs every statement through one connection, so a transaction never
// interleaves with another of this server; PostgreSQL serves several
// connections (and several servers) at once, so read-then-write transactions
// lock what they read first.

import { type ColumnDefinitionBuilderCallback, type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * PostgreSQL text columns compare byte by byte ("C"), as SQLite's do: the
 * database's own locale would otherwise sort `a-b` after `ab`, and listings
 * would differ between the two stores.
 */
export function textType(dialect: StoreDialect) {
  return dialect === 'postgres' ? sql`text collate "C"` : ('text' as const);
}

/** An integer primary key numbered by the database in insertion order (`seq` columns). */
export function serialKey(
  name: string,
  dialect: StoreDialect,
): readonly [string, 'integer' | 'serial', ColumnDefinitionBuilderCallback] {
  return dialect === 'postgres'
    ? [name, 'serial', (c) => c.primaryKey()]
    : [name, 'integer', (c) => c.primaryKey().autoIncrement()];
}

/** Until the transaction ends, no other one creates an app (the next free uid is read, then taken). */
export async function lockAppCreation(trx: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  if (dialect === 'postgres') await sql`lock table apps in share row exclusive mode`.execute(trx);
}

/** Until the transaction ends, no other one writes this app's row or locks it (the next release number). */
export async function lockApp(trx: Kysely<Database>, dialect: StoreDialect, app: string): Promise<void> {
  if (dialect === 'postgres') await sql`select 1 from apps where name = ${app} for update`.execute(trx);
}
