// Public face of the store module: the Store interface and the SQLite opener.
// server.ts picks the opener; everything else depends on `Store` only.

export { openSqliteStore, type SqliteStoreOptions } from './open-sqlite.ts';
export type { AddonRecord, DeploymentPatch, NewDeployment, NewRelease, Store } from './types.ts';
