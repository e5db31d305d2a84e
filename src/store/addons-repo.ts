// Add-ons attached to apps (docs/addons.md): which provider, under which
// name, and the provider's resource. The rows go with their app.

import type { Kysely, Selectable } from 'kysely';
import { SlipwayError } from '../core/errors.ts';
import { isUniqueViolation, rethrowMissingApp } from './db-errors.ts';
import type { AddonsTable, Database } from './schema.ts';
import type { AddonRecord, Store } from './types.ts';

function toAddon(row: Selectable<AddonsTable>): AddonRecord {
  return { app: row.app, name: row.name, provider: row.provider, resource: row.resource, createdAt: row.created_at };
}

export function addonsRepo(db: Kysely<Database>): Store['addons'] {
  return {
    async add(addon) {
      const row = { ...addon, created_at: new Date().toISOString() };
      try {
        await db
          .insertInto('addons')
          .values({
            app: row.app,
            name: row.name,
            provider: row.provider,
            resource: row.resource,
            created_at: row.created_at,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err))
          throw new SlipwayError('addon.already_exists', `${addon.app} already has an add-on named ${addon.name}`);
        rethrowMissingApp(err, addon.app);
      }
      return toAddon(row);
    },

    async get(app, name) {
      return (await this.list(app)).find((addon) => addon.name === name);
    },

    async list(app) {
      const rows = await db.selectFrom('addons').selectAll().where('app', '=', app).orderBy('name').execute();
      return rows.map(toAddon);
    },

    async remove(app, name) {
      const result = await db.deleteFrom('addons').where('app', '=', app).where('name', '=', name).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
