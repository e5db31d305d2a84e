// "The release that serves an app", looked up in one place: the app's
// current release version, then that release.

import { SlipwayError } from '../core/errors.ts';
import type { Release } from '../core/types.ts';
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
