// Releases: immutable snapshots (slug + config + process types) numbered
// 1, 2, 3... per app. The number is taken inside the insert's transaction, and
// the (app, version) primary key backs it up should two writers ever race.

import type { Kysely, Selectable } from 'kysely';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import type { Release } from '../core/types.ts';
import { inTransaction, rethrowMissingApp } from './db-errors.ts';
import { lockApp, type StoreDialect } from './dialect.ts';
import type { Database, ReleasesTable } from './schema.ts';
import type { Store } from './types.ts';

function toRelease(row: Selectable<ReleasesTable>): Release {
  return {
    app: row.app,
    version: row.version,
    slugId: row.slug_id,
    config: JSON.parse(row.config) as Release['config'],
    processes: JSON.parse(row.processes) as Release['processes'],
    procfilePostdeploy: row.procfile_postdeploy,
    releaseCommand: row.release_command,
    manifest: row.manifest === null ? null : (JSON.parse(row.manifest) as ManifestScripts),
    commitSha: row.commit_sha,
    description: row.description,
    createdAt: row.created_at,
    deploymentId: row.deployment_id,
    author: row.author,
    liveAt: row.live_at,
  };
}

export function releasesRepo(db: Kysely<Database>, dialect: StoreDialect): Store['releases'] {
  return {
    async create(release) {
      try {
        // On SQLite, kysely serialises everything through one connection, so
        // this read-then-insert cannot interleave with another one in-process;
        // on PostgreSQL the app's row is locked first.
        const row = await inTransaction(db, async (trx) => {
          await lockApp(trx, dialect, release.app);
          const { max } = await trx
            .selectFrom('releases')
            .select((eb) => eb.fn.max('version').as('max'))
            .where('app', '=', release.app)
            .executeTakeFirstOrThrow();
          return trx
            .insertInto('releases')
            .values({
              app: release.app,
              version: (max ?? 0) + 1,
              slug_id: release.slugId,
              config: JSON.stringify(release.config),
              processes: JSON.stringify(release.processes),
              procfile_postdeploy: release.procfilePostdeploy,
              release_command: release.releaseCommand ?? null,
              manifest: release.manifest === null ? null : JSON.stringify(release.manifest),
              commit_sha: release.commitSha,
              description: release.description,
              created_at: new Date().toISOString(),
              deployment_id: release.deploymentId,
              author: release.author ?? null,
              live_at: null,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
        });
        return toRelease(row);
      } catch (err) {
        return rethrowMissingApp(err, release.app);
      }
    },

    async get(app, version) {
      const row = await db
        .selectFrom('releases')
        .selectAll()
        .where('app', '=', app)
        .where('version', '=', version)
        .executeTakeFirst();
      return row === undefined ? undefined : toRelease(row);
    },

    async list(app) {
      const rows = await db
        .selectFrom('releases')
        .selectAll()
        .where('app', '=', app)
        .orderBy('version', 'desc')
        .execute();
      return rows.map(toRelease);
    },
  };
}
