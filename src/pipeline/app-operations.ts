// The pipeline's app operations: create and destroy an app, its settings,
// config (read), domains, and which release serves it.

import fs from 'node:fs';
import path from 'node:path';
import { validateAppName, validateHostname } from '../core/names.ts';
import { configState, liveRelease } from './current-release.ts';
import type { Pipeline } from './pipeline.ts';
import type { PipelineState } from './pipeline-state.ts';
import { routeApp } from './switch-traffic.ts';

type AppOperations = Pick<
  Pipeline,
  'createApp' | 'destroyApp' | 'updateApp' | 'currentRelease' | 'config' | 'domains' | 'addDomain' | 'removeDomain'
>;

export function appOperations(state: PipelineState): AppOperations {
  const { deps, live, locks, queue, oneOffs } = state;
  const { store } = deps;
  /** Routes the app's hostnames to its running web containers again. */
  const reroute = (app: string) => locks.with(app, () => routeApp(deps, app, live.running(app)));

  return {
    async createApp(name) {
      const app = await store.apps.create(validateAppName(name));
      await routeApp(deps, app.name, []);
      return app;
    },

    async destroyApp(name) {
      await store.apps.require(name);
      queue.abort(name, 'app destroyed');
      await queue.idle(name);
      deps.router.removeRoute(name);
      await Promise.all([state.stopApp(name), oneOffs.stopAll(name)]);
      const releases = await store.releases.list(name);
      const deployments = await store.deployments.list(name, 100_000);
      await store.apps.delete(name);
      for (const release of releases) await deps.slugs.remove(name, release.slugId);
      for (const d of deployments) deps.logs.remove(d.id);
      await deps.appLogs.remove(name);
      // Its build cache: the directory, and the image a sandboxed build keeps it in.
      const cache = path.join(deps.settings.cacheDir, name);
      await Promise.all(
        [cache, `${cache}.img`].map((entry) => fs.promises.rm(entry, { recursive: true, force: true })),
      );
    },

    updateApp: (name, patch) => store.apps.update(name, patch),

    currentRelease: (app) => liveRelease(store, app),

    config: (app) => configState(store, app),

    async domains(app) {
      await store.apps.require(app);
      return store.domains.list(app);
    },

    async addDomain(app, hostname) {
      const host = validateHostname(hostname, deps.settings.domain);
      await store.domains.add(app, host);
      await reroute(app);
      return host;
    },

    async removeDomain(app, hostname) {
      await store.domains.remove(app, hostname.trim().toLowerCase());
      await reroute(app);
    },
  };
}
