// Migration 008: an app's HTTPS settings (docs/https.md): ACME certificates
// on or off (null: the server's default), the redirect to HTTPS, HSTS.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apps').addColumn('certs_auto', 'integer').execute();
  await db.schema
    .alterTable('apps')
    .addColumn('force_https', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('apps')
    .addColumn('hsts', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}
