// Migration 004: Heroku's release phase. A release records the Procfile's
// `release:` command, run once in a one-off container before its containers
// boot (DESIGN §1, 2b).

import type { Kysely } from 'kysely';
import { type StoreDialect, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema.alterTable('releases').addColumn('release_command', text).execute();
}
