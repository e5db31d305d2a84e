// Assembles the Store from the repositories over one kysely instance. It is
// dialect-neutral: open-sqlite.ts or open-postgres.ts builds the
// Kysely<Database>, runs the migrations and hands it here (with the dialect,
// for the few locks only PostgreSQL needs: store/dialect.ts). Every repository
// call that fails for want of disk space throws `disk.full` (the write was
// not made), one that cannot reach the database `store.unavailable` (HTTP
// 503: try again), never the driver's own error.

import type { Kysely } from 'kysely';
import { diskFull, isOutOfSpace, SlipwayError } from '../core/errors.ts';
import type { UidRange } from '../core/types.ts';
import { addonsRepo } from './addons-repo.ts';
import { appsRepo } from './apps-repo.ts';
import { configRepo } from './config-repo.ts';
import { containersRepo } from './containers-repo.ts';
import { isDatabaseUnavailable } from './db-errors.ts';
import { deploymentsRepo } from './deployments-repo.ts';
import type { StoreDialect } from './dialect.ts';
import { domainsRepo } from './domains-repo.ts';
import { formationRepo } from './formation-repo.ts';
import { githubLinksRepo } from './github-links-repo.ts';
import { releasesRepo } from './releases-repo.ts';
import type { Database } from './schema.ts';
import { tokensRepo } from './tokens-repo.ts';
import type { Store } from './types.ts';

export interface StoreOptions {
  /** The uids new apps get (default 20001-30000). */
  readonly uids?: UidRange | undefined;
  readonly dialect: StoreDialect;
}

export function createStore(db: Kysely<Database>, options: StoreOptions): Store {
  return {
    apps: guarded(appsRepo(db, options.dialect, options.uids)),
    config: guarded(configRepo(db)),
    releases: guarded(releasesRepo(db, options.dialect)),
    deployments: guarded(deploymentsRepo(db)),
    formation: guarded(formationRepo(db)),
    containers: guarded(containersRepo(db)),
    domains: guarded(domainsRepo(db)),
    tokens: guarded(tokensRepo(db)),
    githubLinks: guarded(githubLinksRepo(db)),
    addons: guarded(addonsRepo(db)),
    transaction: (fn) =>
      db.isTransaction
        ? fn(createStore(db, options))
        : rethrowStoreErrors(db.transaction().execute((trx) => fn(createStore(trx, options)))),
    close: () => db.destroy(),
  };
}

/** The repository with each method's out-of-space and connection failures turned into SlipwayErrors. */
function guarded<T extends object>(repo: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(repo)) {
    wrapped[name] =
      typeof value === 'function' ? (...args: unknown[]) => rethrowStoreErrors(value.apply(repo, args)) : value;
  }
  return wrapped as T;
}

async function rethrowStoreErrors<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (isOutOfSpace(err)) throw diskFull('this change in the database');
    if (isDatabaseUnavailable(err)) {
      const why = err instanceof Error ? err.message : String(err);
      throw new SlipwayError('store.unavailable', `the database is not answering (${why}): try again once it is back`);
    }
    throw err;
  }
}
