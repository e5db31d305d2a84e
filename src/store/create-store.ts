// Assembles the Store from the repositories over one kysely instance. It is
// dialect-neutral: open-sqlite.ts (and later a PostgreSQL opener) builds the
// Kysely<Database>, runs the migrations and hands it here.

import type { Kysely } from 'kysely';
import type { UidRange } from '../core/types.ts';
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
    apps: appsRepo(db, uids),
    config: configRepo(db),
    releases: releasesRepo(db),
    deployments: deploymentsRepo(db),
    formation: formationRepo(db),
    containers: containersRepo(db),
    domains: domainsRepo(db),
    tokens: tokensRepo(db),
    githubLinks: githubLinksRepo(db),
    close: () => db.destroy(),
  };
}
