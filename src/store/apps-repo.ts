// Apps: the root record everything else hangs off. Deleting an app removes
// its config, releases, deployments (with steps), formation and containers
// through ON DELETE CASCADE, so one DELETE statement is the whole transaction.

import type { Kysely, Selectable } from 'kysely';
import { SlipwayError } from '../core/errors.ts';
import type { App } from '../core/types.ts';
import { appNotFound, isUniqueViolation } from './db-errors.ts';
import type { AppsTable, Database } from './schema.ts';
import type { Store } from './types.ts';

function toApp(row: Selectable<AppsTable>): App {
  return {
    name: row.name,
    createdAt: row.created_at,
    currentRelease: row.current_release,
    hookTimeoutMs: row.hook_timeout_ms,
  };
}

export function appsRepo(db: Kysely<Database>): Store['apps'] {
  const get = async (name: string): Promise<App | undefined> => {
    const row = await db.selectFrom('apps').selectAll().where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : toApp(row);
  };

  return {
    async create(name) {
      const row = { name, created_at: new Date().toISOString(), current_release: null, hook_timeout_ms: null };
      try {
        await db.insertInto('apps').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new SlipwayError('app.already_exists', `app "${name}" already exists`, { app: name });
        }
        throw err;
      }
      return toApp(row);
    },

    get,

    async require(name) {
      const app = await get(name);
      if (app === undefined) throw appNotFound(name);
      return app;
    },

    async list() {
      const rows = await db.selectFrom('apps').selectAll().orderBy('name').execute();
      return rows.map(toApp);
    },

    async delete(name) {
      const result = await db.deleteFrom('apps').where('name', '=', name).executeTakeFirst();
      if (result.numDeletedRows === 0n) throw appNotFound(name);
    },

    setCurrentRelease: (name, version) => updateApp(db, name, { current_release: version }),
    setHookTimeout: (name, ms) => updateApp(db, name, { hook_timeout_ms: ms }),
  };
}

async function updateApp(
  db: Kysely<Database>,
  name: string,
  patch: { current_release?: number | null; hook_timeout_ms?: number | null },
): Promise<void> {
  const result = await db.updateTable('apps').set(patch).where('name', '=', name).executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw appNotFound(name);
}
