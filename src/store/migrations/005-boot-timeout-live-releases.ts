// Migration 005: a boot timeout per app (null: the server's), and when each
// release first went live (null: never, e.g. its deployment failed). Releases
// that are current, or that a successful deployment switched to, went live
// before this column existed: they get their creation time.

import { type Kysely, sql } from 'kysely';
import { type StoreDialect, textType } from '../dialect.ts';

export async function up(db: Kysely<unknown>, dialect: StoreDialect = 'sqlite'): Promise<void> {
  const text = textType(dialect);
  await db.schema.alterTable('apps').addColumn('boot_timeout_ms', 'integer').execute();
  await db.schema.alterTable('releases').addColumn('live_at', text).execute();
  await sql`
    update releases set live_at = created_at
    where exists (select 1 from apps a where a.name = releases.app and a.current_release = releases.version)
       or exists (select 1 from deployments d
                  where d.app = releases.app and d.release_version = releases.version and d.status = 'success')
  `.execute(db);
}
