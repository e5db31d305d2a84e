// Migration 007: add-ons (docs/addons.md). One row per add-on attached to an
// app: its provider (`postgresql`), the name it is attached as (`DATABASE`,
// whose URL is the config var `DATABASE_URL`) and the provider's own resource
// name (the database and role). The row goes with the app (cascade); the
// resource is the provider's to remove first. And the app setting
// `restore_on_hook_failure` (apps:update --restore-on-hook-failure): 1 restores
// the backups taken before a postdeploy hook when the hook fails.

import type { Kysely } from 'kysely';
import { type StoreDialect, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema
    .createTable('addons')
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('name', text, (c) => c.notNull())
    .addColumn('provider', text, (c) => c.notNull())
    .addColumn('resource', text, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('addons_pk', ['app', 'name'])
    .execute();
  await db.schema
    .alterTable('apps')
    .addColumn('restore_on_hook_failure', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
