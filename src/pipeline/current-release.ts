// "The release that serves an app", looked up in one place: the app's
// current release version, then that release; and the config it runs with.

import { configChanges } from '../core/config-changes.ts';
import { SlipwayError } from '../core/errors.ts';
import { FINAL_STATUSES } from '../core/lifecycle.ts';
import { type ConfigState, type Release, releaseName } from '../core/types.ts';
import type { Store } from '../store/types.ts';

/** The app's current release, or null when it has none yet (throws `app.not_found`). */
export async function liveRelease(store: Store, app: string): Promise<Release | null> {
  const record = await store.apps.require(app);
  if (record.currentRelease === null) return null;
  return (await store.releases.get(app, record.currentRelease)) ?? null;
}

/** The app's current release; `app.no_release` when it has none yet. */
export async function currentRelease(store: Store, app: string): Promise<Release> {
  const release = await liveRelease(store, app);
  if (!release) throw new SlipwayError('app.no_release', `${app} has no release yet: deploy it first`, { app });
  return release;
}

/** Release `version` of the app; `release.not_found` when it has none of that number. */
export async function releaseOf(store: Store, app: string, version: number): Promise<Release> {
  const release = await store.releases.get(app, version);
  if (!release) {
    throw new SlipwayError('release.not_found', `${app} has no release ${releaseName(version)}`, { app, version });
  }
  return release;
}

/** The app's config as it runs, and the stored change that is not live yet, if any. */
export async function configState(store: Store, app: string): Promise<ConfigState> {
  const [live, stored, [latest]] = await Promise.all([
    liveRelease(store, app),
    store.config.get(app),
    store.deployments.list(app, 1),
  ]);
  const inProgress = latest && !FINAL_STATUSES.has(latest.status) ? latest : null;
  if (!live) {
    return { vars: stored, liveRelease: null, status: 'not-deployed', unapplied: {}, deployment: inProgress };
  }
  const unapplied = configChanges(live.config, stored);
  const base = { vars: live.config, liveRelease: live.version, unapplied };
  if (Object.keys(unapplied).length === 0) return { ...base, status: 'live', deployment: null };
  if (inProgress) return { ...base, status: 'pending', deployment: inProgress };
  return { ...base, status: 'failed', deployment: latest?.status === 'success' ? null : (latest ?? null) };
}
