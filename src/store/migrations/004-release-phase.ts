// Migration 004: Heroku's release phase. A release records the Procfile's
// `release:` command, run once in a one-off container before its containers
// boot (DESIGN §1, 2b).

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('releases').addColumn('release_command', 'text').execute();
}
