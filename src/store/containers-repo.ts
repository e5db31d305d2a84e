// Containers Slipway started: the record the runtime and `ps` read, and what
// recovery reconciles against after a restart.

import type { Kysely, Selectable } from 'kysely';
import type { ContainerRecord, ContainerState } from '../core/types.ts';
import { rethrowMissingApp } from './db-errors.ts';
import type { ContainersTable, Database } from './schema.ts';
import type { Store } from './types.ts';

function toContainer(row: Selectable<ContainersTable>): ContainerRecord {
  return {
    id: row.id,
    app: row.app,
    name: row.name,
    type: row.type,
    releaseVersion: row.release_version,
    state: row.state as ContainerState,
    port: row.port,
    pid: row.pid,
    startedAt: row.started_at,
    restarts: row.restarts,
  };
}

/** By app, then name with numbers compared as numbers (`web-2` before `web-10`). */
function compareContainers(a: ContainerRecord, b: ContainerRecord): number {
  if (a.app !== b.app) return a.app < b.app ? -1 : 1;
  return a.name.localeCompare(b.name, 'en', { numeric: true }) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function containersRepo(db: Kysely<Database>): Store['containers'] {
  return {
    async put(c) {
      const row = {
        id: c.id,
        app: c.app,
        name: c.name,
        type: c.type,
        release_version: c.releaseVersion,
        state: c.state,
        port: c.port,
        pid: c.pid,
        started_at: c.startedAt,
        restarts: c.restarts,
      };
      const { id: _id, ...updates } = row;
      try {
        await db
          .insertInto('containers')
          .values(row)
          .onConflict((oc) => oc.column('id').doUpdateSet(updates))
          .execute();
      } catch (err) {
        rethrowMissingApp(err, c.app);
      }
    },

    async setState(id, state) {
      // A container removed meanwhile (retired, app deleted) is not an error.
      await db.updateTable('containers').set({ state }).where('id', '=', id).execute();
    },

    async remove(id) {
      await db.deleteFrom('containers').where('id', '=', id).execute();
    },

    async list(app) {
      let query = db.selectFrom('containers').selectAll();
      if (app !== undefined) query = query.where('app', '=', app);
      const rows = await query.execute();
      return rows.map(toContainer).sort(compareContainers);
    },
  };
}
