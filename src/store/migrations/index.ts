// The ordered list of schema migrations and the code that applies them.
// Migrations are in code (not read from a folder at run time) so that they
// work from any working directory and under tsx without a build step.
// Names sort in the order they run; a released migration is never edited.

import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { Database } from '../schema.ts';
import * as initial from './001-initial.ts';
import * as dayTwo from './002-day-two.ts';
import * as githubLinks from './003-github-links.ts';
import * as releasePhase from './004-release-phase.ts';
import * as bootTimeoutLiveReleases from './005-boot-timeout-live-releases.ts';
import * as appBuildpacks from './006-app-buildpacks.ts';
import * as appHttps from './008-app-https.ts';

const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001-initial': initial,
  '002-day-two': dayTwo,
  '003-github-links': githubLinks,
  '004-release-phase': releasePhase,
  '005-boot-timeout-live-releases': bootTimeoutLiveReleases,
  '006-app-buildpacks': appBuildpacks,
  '008-app-https': appHttps,
};

const provider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};

/**
 * Applies every pending migration (or those up to `target`, for tests of a
 * migration's data changes); returns the names it ran (empty when up to date).
 */
export async function migrateToLatest(db: Kysely<Database>, target?: string): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = target === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`store migration ${failed} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
