// Config vars of an app, one row per key. Reads come back with keys sorted so
// listings and release snapshots are stable.

import type { Kysely } from 'kysely';
import type { ConfigVars } from '../core/types.ts';
import { appNotFound, inTransaction } from './db-errors.ts';
import type { Database } from './schema.ts';
import type { Store } from './types.ts';

async function readConfig(db: Kysely<Database>, app: string): Promise<ConfigVars> {
  const rows = await db
    .selectFrom('config_vars')
    .select(['key', 'value'])
    .where('app', '=', app)
    .orderBy('key')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

export function configRepo(db: Kysely<Database>): Store['config'] {
  return {
    get: (app) => readConfig(db, app),

    async update(app, changes) {
      return inTransaction(db, async (trx) => {
        // Checked explicitly: an unset-only change would otherwise succeed
        // silently on an app that does not exist.
        const exists = await trx.selectFrom('apps').select('name').where('name', '=', app).executeTakeFirst();
        if (exists === undefined) throw appNotFound(app);

        const unsets = Object.keys(changes).filter((key) => changes[key] === null);
        if (unsets.length > 0) {
          await trx.deleteFrom('config_vars').where('app', '=', app).where('key', 'in', unsets).execute();
        }
        const sets = Object.entries(changes).flatMap(([key, value]) => (value === null ? [] : [{ app, key, value }]));
        if (sets.length > 0) {
          await trx
            .insertInto('config_vars')
            .values(sets)
            .onConflict((oc) => oc.columns(['app', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
            .execute();
        }
        return readConfig(trx, app);
      });
    },
  };
}
