// Apps: the root record everything else hangs off. Deleting an app removes
// its config, releases, deployments (with steps), formation and containers
// through ON DELETE CASCADE, so one DELETE statement is the whole transaction.

import type { Kysely, Selectable, Updateable } from 'kysely';
import { type ContainerSize, DEFAULT_CONTAINER_SIZE, isContainerSize } from '../core/container-size.ts';
import { SlipwayError } from '../core/errors.ts';
import type { App, AppSettingsPatch, UidRange } from '../core/types.ts';
import type { Volume } from '../core/volumes.ts';
import { appNotFound, inTransaction, isUniqueViolation } from './db-errors.ts';
import { lockAppCreation, type StoreDialect } from './dialect.ts';
import type { AppsTable, Database } from './schema.ts';
import type { Store } from './types.ts';

function toApp(row: Selectable<AppsTable>): App {
  return {
    name: row.name,
    createdAt: row.created_at,
    currentRelease: row.current_release,
    hookTimeoutMs: row.hook_timeout_ms,
    bootTimeoutMs: row.boot_timeout_ms,
    uid: row.uid,
    containerSize: sizeOf(row.container_size) ?? DEFAULT_CONTAINER_SIZE,
    hookSize: sizeOf(row.hook_size),
    buildpacks: buildpacksOf(row.buildpacks),
    restoreOnHookFailure: row.restore_on_hook_failure === 1,
    certsAuto: row.certs_auto === null ? null : row.certs_auto === 1,
    forceHttps: row.force_https === 1,
    hsts: row.hsts === 1,
    volumes: volumesOf(row.volumes),
  };
}

function volumesOf(value: string | null): Volume[] {
  if (value === null) return [];
  const list: unknown = JSON.parse(value);
  return Array.isArray(list) ? (list as Volume[]) : [];
}

function buildpacksOf(value: string | null): string[] {
  if (value === null) return [];
  const list: unknown = JSON.parse(value);
  return Array.isArray(list) ? list.filter((b): b is string => typeof b === 'string') : [];
}

function sizeOf(value: string | null): ContainerSize | null {
  return value !== null && isContainerSize(value) ? value : null;
}

/** Before homes had ranges of their own, every home gave its apps uids from 20001 up. */
export const LEGACY_UIDS: UidRange = { first: 20_001, last: 30_000 };

/** A new app takes the next uid above the highest the home's range has in use. */
export function appsRepo(db: Kysely<Database>, dialect: StoreDialect, uids: UidRange = LEGACY_UIDS): Store['apps'] {
  const get = async (name: string): Promise<App | undefined> => {
    const row = await db.selectFrom('apps').selectAll().where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : toApp(row);
  };

  return {
    async create(name) {
      try {
        const row = await inTransaction(db, async (trx) => {
          await lockAppCreation(trx, dialect);
          const { max } = await trx
            .selectFrom('apps')
            .select((eb) => eb.fn.max('uid').as('max'))
            .where('uid', '>=', uids.first)
            .where('uid', '<=', uids.last)
            .executeTakeFirstOrThrow();
          const uid = Math.max(uids.first, (max ?? 0) + 1);
          if (uid > uids.last) {
            throw new SlipwayError(
              'app.limit_reached',
              `no uid left for a new app (${uids.first}-${uids.last} are used)`,
            );
          }
          return trx
            .insertInto('apps')
            .values({
              name,
              created_at: new Date().toISOString(),
              current_release: null,
              hook_timeout_ms: null,
              boot_timeout_ms: null,
              uid,
              container_size: DEFAULT_CONTAINER_SIZE,
              hook_size: null,
              buildpacks: null,
              certs_auto: null,
              volumes: null,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
        });
        return toApp(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new SlipwayError('app.already_exists', `app "${name}" already exists`, { app: name });
        }
        throw err;
      }
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

    // The release it makes current went live now, unless it already had.
    setCurrentRelease: (name, version) =>
      inTransaction(db, async (trx) => {
        await updateApp(trx, name, { current_release: version });
        if (version === null) return;
        await trx
          .updateTable('releases')
          .set({ live_at: new Date().toISOString() })
          .where('app', '=', name)
          .where('version', '=', version)
          .where('live_at', 'is', null)
          .execute();
      }),

    async update(name, patch: AppSettingsPatch) {
      const row: Updateable<AppsTable> = {};
      if (patch.hookTimeoutMs !== undefined) row.hook_timeout_ms = patch.hookTimeoutMs;
      if (patch.bootTimeoutMs !== undefined) row.boot_timeout_ms = patch.bootTimeoutMs;
      if (patch.containerSize !== undefined) row.container_size = patch.containerSize;
      if (patch.hookSize !== undefined) row.hook_size = patch.hookSize;
      if (patch.restoreOnHookFailure !== undefined) row.restore_on_hook_failure = patch.restoreOnHookFailure ? 1 : 0;
      if (patch.volumes !== undefined) row.volumes = patch.volumes.length === 0 ? null : JSON.stringify(patch.volumes);
      if (patch.buildpacks !== undefined)
        row.buildpacks = patch.buildpacks.length === 0 ? null : JSON.stringify(patch.buildpacks);
      if (patch.certsAuto !== undefined) row.certs_auto = patch.certsAuto === null ? null : Number(patch.certsAuto);
      if (patch.forceHttps !== undefined) row.force_https = Number(patch.forceHttps);
      if (patch.hsts !== undefined) row.hsts = Number(patch.hsts);
      if (Object.keys(row).length > 0) await updateApp(db, name, row);
      const app = await get(name);
      if (app === undefined) throw appNotFound(name);
      return app;
    },
  };
}

async function updateApp(db: Kysely<Database>, name: string, patch: Updateable<AppsTable>): Promise<void> {
  const result = await db.updateTable('apps').set(patch).where('name', '=', name).executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw appNotFound(name);
}
