// Public face of the store module: the Store interface and the SQLite opener.
// server.ts picks the opener; everything else depends on `Store` only. The
// PostgreSQL opener (open-postgres.ts) is imported on its own, when
// configured, so that a SQLite server never loads pg.

export { openSqliteStore, type SqliteStoreOptions } from './open-sqlite.ts';
export type { AddonRecord, DeploymentPatch, NewDeployment, NewRelease, Store } from './types.ts';
