// Migration 001: the initial schema. Released migrations are never edited;
// a schema change is a new file (002-...) registered in migrations/index.ts.
// (Each takes the dialect: on SQLite it issues exactly the statements it
// always did; on PostgreSQL the same schema in its types, store/dialect.ts.)
//
// Status, kind, step and state columns are plain text without CHECK lists on
// purpose: SQLite cannot alter a CHECK without rebuilding the table, and the
// allowed values live in core/lifecycle.ts and core/types.ts.

import { type Kysely, sql } from 'kysely';
import { type StoreDialect, serialKey, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema
    .createTable('apps')
    .addColumn('name', text, (c) => c.primaryKey())
    .addColumn('created_at', text, (c) => c.notNull())
    // No foreign key to releases: it would make apps and releases reference
    // each other and complicate cascade deletes; the pipeline sets it.
    .addColumn('current_release', 'integer')
    .addColumn('hook_timeout_ms', 'integer')
    .execute();

  await db.schema
    .createTable('config_vars')
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('key', text, (c) => c.notNull())
    .addColumn('value', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('config_vars_pk', ['app', 'key'])
    .execute();

  await db.schema
    .createTable('releases')
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('slug_id', text, (c) => c.notNull())
    .addColumn('config', text, (c) => c.notNull())
    .addColumn('processes', text, (c) => c.notNull())
    .addColumn('procfile_postdeploy', text)
    .addColumn('manifest', text)
    .addColumn('commit_sha', text)
    .addColumn('description', text, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    // A loose reference, no foreign key: then the only foreign key of this
    // table is `app`, so a foreign-key error on insert means "app missing".
    .addColumn('deployment_id', text)
    .addPrimaryKeyConstraint('releases_pk', ['app', 'version'])
    .execute();

  await db.schema
    .createTable('deployments')
    .addColumn(...serialKey('seq', dialect))
    .addColumn('id', text, (c) => c.notNull().unique())
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('kind', text, (c) => c.notNull())
    .addColumn('status', text, (c) => c.notNull())
    .addColumn('step', text)
    .addColumn('source', text, (c) => c.notNull())
    .addColumn('git_ref', text)
    .addColumn('commit_sha', text)
    .addColumn('release_version', 'integer')
    .addColumn('hook_command', text)
    .addColumn('hook_source', text)
    .addColumn('hook_exit_code', 'integer')
    .addColumn('error_code', text)
    .addColumn('error_message', text)
    .addColumn('created_at', text, (c) => c.notNull())
    .addColumn('finished_at', text)
    .execute();
  await db.schema.createIndex('deployments_app_created').on('deployments').columns(['app', 'created_at']).execute();
  await db.schema.createIndex('deployments_status').on('deployments').column('status').execute();

  await db.schema
    .createTable('deployment_steps')
    .addColumn(...serialKey('seq', dialect))
    .addColumn('deployment_id', text, (c) => c.notNull().references('deployments.id').onDelete('cascade'))
    .addColumn('name', text, (c) => c.notNull())
    .addColumn('started_at', text, (c) => c.notNull())
    .addColumn('finished_at', text)
    .execute();
  await db.schema.createIndex('deployment_steps_deployment').on('deployment_steps').column('deployment_id').execute();

  await db.schema
    .createTable('formation')
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('type', text, (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity >= 0`))
    .addPrimaryKeyConstraint('formation_pk', ['app', 'type'])
    .execute();

  await db.schema
    .createTable('containers')
    .addColumn('id', text, (c) => c.primaryKey())
    .addColumn('app', text, (c) => c.notNull().references('apps.name').onDelete('cascade'))
    .addColumn('name', text, (c) => c.notNull())
    .addColumn('type', text, (c) => c.notNull())
    .addColumn('release_version', 'integer', (c) => c.notNull())
    .addColumn('state', text, (c) => c.notNull())
    .addColumn('port', 'integer')
    .addColumn('pid', 'integer')
    .addColumn('started_at', text, (c) => c.notNull())
    .addColumn('restarts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('containers_app').on('containers').column('app').execute();

  await db.schema
    .createTable('tokens')
    .addColumn('hash', text, (c) => c.primaryKey())
    .addColumn('name', text, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .execute();
}
