// GitHub links (one linked repository per app, gone with the app) and the
// webhook deliveries already handled (a bounded list of X-GitHub-Delivery ids).

import type { Kysely, Selectable } from 'kysely';
import { isUniqueViolation, rethrowMissingApp } from './db-errors.ts';
import type { Database, GithubLinksTable } from './schema.ts';
import type { GithubLink, Store } from './types.ts';

const DEFAULT_KEEP = 1000;

function toLink(row: Selectable<GithubLinksTable>): GithubLink {
  return {
    app: row.app,
    repo: row.repo,
    branch: row.branch,
    autoDeploy: row.auto_deploy === 1,
    secret: row.secret,
    token: row.token,
    createdAt: row.created_at,
  };
}

export function githubLinksRepo(db: Kysely<Database>): Store['githubLinks'] {
  return {
    async put(link) {
      const row = {
        app: link.app,
        repo: link.repo.toLowerCase(),
        branch: link.branch,
        auto_deploy: link.autoDeploy ? 1 : 0,
        secret: link.secret,
        token: link.token,
        created_at: new Date().toISOString(),
      };
      try {
        await db
          .insertInto('github_links')
          .values(row)
          .onConflict((oc) =>
            oc.column('app').doUpdateSet({
              repo: row.repo,
              branch: row.branch,
              auto_deploy: row.auto_deploy,
              secret: row.secret,
              token: row.token,
            }),
          )
          .execute();
      } catch (err) {
        rethrowMissingApp(err, link.app);
      }
      return toLink(
        await db.selectFrom('github_links').selectAll().where('app', '=', link.app).executeTakeFirstOrThrow(),
      );
    },

    async get(app) {
      const row = await db.selectFrom('github_links').selectAll().where('app', '=', app).executeTakeFirst();
      return row ? toLink(row) : undefined;
    },

    async findByRepo(repo) {
      const rows = await db
        .selectFrom('github_links')
        .selectAll()
        .where('repo', '=', repo.toLowerCase())
        .orderBy('app')
        .execute();
      return rows.map(toLink);
    },

    async secrets() {
      const rows = await db.selectFrom('github_links').select('secret').distinct().execute();
      return rows.map((row) => row.secret);
    },

    async remove(app) {
      const result = await db.deleteFrom('github_links').where('app', '=', app).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async recordDelivery(id, keep = DEFAULT_KEEP) {
      try {
        await db.insertInto('github_deliveries').values({ id, received_at: new Date().toISOString() }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
      const cutoff = await db
        .selectFrom('github_deliveries')
        .select('seq')
        .orderBy('seq', 'desc')
        .offset(keep)
        .limit(1)
        .executeTakeFirst();
      if (cutoff) await db.deleteFrom('github_deliveries').where('seq', '<=', cutoff.seq).execute();
      return true;
    },
  };
}
