// The ordered list of schema migrations and the code that applies them.
// Migrations are in code (not read from a folder at run time) so that they
// work from any working directory and under tsx without a build step.
// Names sort in the order they run; a released migration is never edited.
// Each runs on SQLite and PostgreSQL: `up(db, dialect)` declares text columns
// with textType(dialect) and integer keys numbered by the database with
// serialKey (store/dialect.ts); plain kysely schema calls do the rest.
//
// Each runs once per database, recorded in kysely's `kysely_migration` table.
// Servers starting together against one PostgreSQL database are safe: kysely
// holds an advisory lock while it migrates, and the one that waited finds
// nothing left to do. (On SQLite one file has one server.)

import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { StoreDialect } from '../dialect.ts';
import type { Database } from '../schema.ts';
import * as initial from './001-initial.ts';
import * as dayTwo from './002-day-two.ts';
import * as githubLinks from './003-github-links.ts';
import * as releasePhase from './004-release-phase.ts';
import * as bootTimeoutLiveReleases from './005-boot-timeout-live-releases.ts';
import * as appBuildpacks from './006-app-buildpacks.ts';
import * as addons from './007-addons.ts';
import * as appHttps from './008-app-https.ts';
import * as volumes from './009-volumes.ts';

type DialectMigration = { up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void> };

const MIGRATIONS: Readonly<Record<string, DialectMigration>> = {
  '001-initial': initial,
  '002-day-two': dayTwo,
  '003-github-links': githubLinks,
  '004-release-phase': releasePhase,
  '005-boot-timeout-live-releases': bootTimeoutLiveReleases,
  '006-app-buildpacks': appBuildpacks,
  '007-addons': addons,
  '008-app-https': appHttps,
  '009-volumes': volumes,
};

function providerFor(dialect: StoreDialect): MigrationProvider {
  return {
    getMigrations: async () =>
      Object.fromEntries(
        Object.entries(MIGRATIONS).map(([name, m]): [string, Migration] => [name, { up: (db) => m.up(db, dialect) }]),
      ),
  };
}

/**
 * Applies every pending migration (or those up to `target`, for tests of a
 * migration's data changes); returns the names it ran (empty when up to date).
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  target?: string,
  dialect: StoreDialect = 'sqlite',
): Promise<string[]> {
  const migrator = new Migrator({ db, provider: providerFor(dialect) });
  const { error, results } = target === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const what = failed === undefined ? 'store migrations could not run' : `store migration ${failed} failed`;
    throw new Error(`${what}: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
