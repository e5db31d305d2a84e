// Formation: how many containers of each process type an app should run.
// A type scaled to 0 stays recorded (explicitly off); never-scaled types are absent.

import type { Kysely } from 'kysely';
import { SlipwayError } from '../core/errors.ts';
import { rethrowMissingApp } from './db-errors.ts';
import type { Database } from './schema.ts';
import type { Store } from './types.ts';

export function formationRepo(db: Kysely<Database>): Store['formation'] {
  return {
    async get(app) {
      const rows = await db
        .selectFrom('formation')
        .select(['type', 'quantity'])
        .where('app', '=', app)
        .orderBy('type')
        .execute();
      return Object.fromEntries(rows.map((r) => [r.type, r.quantity]));
    },

    async set(app, quantities) {
      const rows = Object.entries(quantities).map(([type, quantity]) => ({ app, type, quantity }));
      for (const { type, quantity } of rows) {
        if (!Number.isSafeInteger(quantity) || quantity < 0) {
          throw new SlipwayError('request.invalid', `quantity for "${type}" must be a whole number ≥ 0`, { type });
        }
      }
      if (rows.length === 0) return;
      try {
        await db
          .insertInto('formation')
          .values(rows)
          .onConflict((oc) =>
            oc.columns(['app', 'type']).doUpdateSet((eb) => ({ quantity: eb.ref('excluded.quantity') })),
          )
          .execute();
      } catch (err) {
        rethrowMissingApp(err, app);
      }
    },
  };
}
