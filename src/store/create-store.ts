// Assembles the Store from the repositories over one kysely instance. It is
// dialect-neutral: open-sqlite.ts (and later a PostgreSQL opener) builds the
// Kysely<Database>, runs the migrations and hands it here. Every repository
// call that fails for want of disk space throws `disk.full` (the write was
// not made), never the driver's own error.

import type { Kysely } from 'kysely';
import { diskFull, isOutOfSpace } from '../core/errors.ts';
import type { UidRange } from '../core/types.ts';
import { addonsRepo } from './addons-repo.ts';
import { appsRepo } from './apps-repo.ts';
import { configRepo } from './config-repo.ts';
import { containersRepo } from './containers-repo.ts';
import { deploymentsRepo } from './deployments-repo.ts';
import { domainsRepo } from './domains-repo.ts';
import { formationRepo } from './formation-repo.ts';
import { githubLinksRepo } from './github-links-repo.ts';
import { releasesRepo } from './releases-repo.ts';
import type { Database } from './schema.ts';
import { tokensRepo } from './tokens-repo.ts';
import type { Store } from './types.ts';

export function createStore(db: Kysely<Database>, uids?: UidRange): Store {
  return {
    apps: guarded(appsRepo(db, uids)),
    config: guarded(configRepo(db)),
    releases: guarded(releasesRepo(db)),
    deployments: guarded(deploymentsRepo(db)),
    formation: guarded(formationRepo(db)),
    containers: guarded(containersRepo(db)),
    domains: guarded(domainsRepo(db)),
    tokens: guarded(tokensRepo(db)),
    githubLinks: guarded(githubLinksRepo(db)),
    addons: guarded(addonsRepo(db)),
    transaction: (fn) =>
      db.isTransaction
        ? fn(createStore(db, uids))
        : rethrowDiskFull(db.transaction().execute((trx) => fn(createStore(trx, uids)))),
    close: () => db.destroy(),
  };
}

/** The repository with each method's out-of-space failure turned into `disk.full`. */
function guarded<T extends object>(repo: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(repo)) {
    wrapped[name] =
      typeof value === 'function' ? (...args: unknown[]) => rethrowDiskFull(value.apply(repo, args)) : value;
  }
  return wrapped as T;
}

async function rethrowDiskFull<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    throw isOutOfSpace(err) ? diskFull('this change in the database') : err;
  }
}
