// Migration 003: GitHub integration.
// - github_links: one linked repository per app, with the webhook secret and
//   the token used for commit statuses (stored as given: see docs/github.md);
// - github_deliveries: the webhook deliveries already handled (X-GitHub-Delivery),
//   so a redelivered push deploys once.

import type { Kysely } from 'kysely';
import { type StoreDialect, serialKey, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema
    .createTable('github_links')
    .addColumn('app', text, (c) => c.primaryKey().references('apps.name').onDelete('cascade'))
    .addColumn('repo', text, (c) => c.notNull())
    .addColumn('branch', text, (c) => c.notNull())
    .addColumn('auto_deploy', 'integer', (c) => c.notNull())
    .addColumn('secret', text, (c) => c.notNull())
    .addColumn('token', text)
    .addColumn('created_at', text, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('github_links_repo').on('github_links').column('repo').execute();
  await db.schema
    .createTable('github_deliveries')
    .addColumn(...serialKey('seq', dialect))
    .addColumn('id', text, (c) => c.notNull().unique())
    .addColumn('received_at', text, (c) => c.notNull())
    .execute();
}
