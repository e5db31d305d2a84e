// Migration 009: an app's volumes (docs/volumes.md), a JSON array on its row
// like its buildpacks: each volume's id, path, size and creation time. They
// are read with the app for every container start, and change only through
// volumes:add / volumes:remove.

import type { Kysely } from 'kysely';
import { type StoreDialect, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  await db.schema.alterTable('apps').addColumn('volumes', textType(dialect)).execute();
}
