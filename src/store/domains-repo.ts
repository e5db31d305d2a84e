// Custom domains: each hostname belongs to at most one app (primary key), and
// goes with it when the app is destroyed (ON DELETE CASCADE).

import type { Kysely } from 'kysely';
import { SlipwayError } from '../core/errors.ts';
import { isUniqueViolation, rethrowMissingApp } from './db-errors.ts';
import type { Database } from './schema.ts';
import type { Store } from './types.ts';

export function domainsRepo(db: Kysely<Database>): Store['domains'] {
  return {
    async add(app, hostname) {
      try {
        await db.insertInto('domains').values({ app, hostname, created_at: new Date().toISOString() }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new SlipwayError('domain.taken', `${hostname} is already used by an app`, { hostname });
        }
        rethrowMissingApp(err, app);
      }
    },

    async remove(app, hostname) {
      const result = await db
        .deleteFrom('domains')
        .where('app', '=', app)
        .where('hostname', '=', hostname)
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) {
        throw new SlipwayError('domain.not_found', `${app} has no domain ${hostname}`, { hostname });
      }
    },

    async list(app) {
      const rows = await db
        .selectFrom('domains')
        .select('hostname')
        .where('app', '=', app)
        .orderBy('hostname')
        .execute();
      return rows.map((r) => r.hostname);
    },
  };
}
