// Migration 006: the buildpacks an app runs, as set by `slipway buildpacks:set`
// (a JSON array of names or URLs, in order); null: none set, the build picks
// them (docs/buildpacks.md).

import type { Kysely } from 'kysely';
import { type StoreDialect, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema.alterTable('apps').addColumn('buildpacks', text).execute();
}
