// Migration 002: what day-2 operations and the sandbox need.
// - apps: a per-app uid (the sandbox runs each app as its own user), the
//   container size of its processes and of its postdeploy hook;
// - domains: custom hostnames, each served for exactly one app;
// - releases and deployments: the author (token name), and whether a
//   deployment runs the postdeploy hook (`rollback --no-hook`).

import { type Kysely, sql } from 'kysely';
import { type StoreDialect, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema.alterTable('apps').addColumn('uid', 'integer').execute();
  if (dialect === 'postgres') {
    // No rowid there: number the apps in the order they were created.
    await sql`
      update apps set uid = 20000 + n.rn
      from (select name, row_number() over (order by created_at, name) as rn from apps) n
      where n.name = apps.name
    `.execute(db);
  } else {
    await sql`UPDATE apps SET uid = 20000 + rowid`.execute(db);
  }
  await db.schema.createIndex('apps_uid').on('apps').column('uid').unique().execute();
  await db.schema
    .alterTable('apps')
    .addColumn('container_size', text, (c) => c.notNull().defaultTo('M'))
    .execute();
  await db.schema.alterTable('apps').addColumn('hook_size', text).execute();

  await db.schema
    .createTable('domains')
    .addColumn('hostname', text, (c) => c.primaryKey())
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('created_at', text, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('domains_app').on('domains').column('app').execute();

  await db.schema.alterTable('releases').addColumn('author', text).execute();
  await db.schema.alterTable('deployments').addColumn('author', text).execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('run_hook', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}
