// The pipeline's app operations: create and destroy an app, its settings,
// config (read), buildpacks, build cache, domains, and which release serves it.

import fs from 'node:fs';
import path from 'node:path';
import { parseBuildpackSpec } from '../core/buildpack-spec.ts';
import { SlipwayError } from '../core/errors.ts';
import { validateAppName, validateHostname } from '../core/names.ts';
import { configState, liveRelease } from './current-release.ts';
import type { Pipeline } from './pipeline.ts';
import type { PipelineState } from './pipeline-state.ts';
import { routeApp } from './switch-traffic.ts';

type AppOperations = Pick<
  Pipeline,
  | 'createApp'
  | 'destroyApp'
  | 'updateApp'
  | 'setBuildpacks'
  | 'clearBuildCache'
  | 'currentRelease'
  | 'config'
  | 'domains'
  | 'addDomain'
  | 'removeDomain'
>;

const MAX_BUILDPACKS = 20;

/**
 * Removes an app's build cache: the directory, the image a sandboxed build
 * keeps it in, and the kept layers beside it (runtime/sandbox/kept-layer.ts).
 * A build running meanwhile keeps what it has open (an image stays until it
 * is unmounted); the next build starts empty.
 */
async function removeBuildCache(cacheDir: string, app: string): Promise<void> {
  const cache = path.join(cacheDir, app);
  await Promise.all(
    [cache, `${cache}.img`, `${cache}.kept`].map((entry) => fs.promises.rm(entry, { recursive: true, force: true })),
  );
}

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
      const { volumes } = await store.apps.require(name);
      const releases = await store.releases.list(name);
      const deployments = await store.deployments.list(name, 100_000);
      await store.apps.delete(name);
      for (const release of releases) await deps.slugs.remove(name, release.slugId);
      for (const d of deployments) deps.logs.remove(d.id);
      await deps.appLogs.remove(name);
      await removeBuildCache(deps.settings.cacheDir, name);
      for (const volume of volumes) await deps.runtime.removeVolume(volume.id);
    },

    async updateApp(name, patch) {
      const app = await store.apps.update(name, patch);
      // The redirect and HSTS live in the route.
      if (patch.forceHttps !== undefined || patch.hsts !== undefined) await reroute(name);
      return app;
    },

    async setBuildpacks(name, buildpacks) {
      if (buildpacks.length > MAX_BUILDPACKS)
        throw new SlipwayError('buildpack.invalid', `at most ${MAX_BUILDPACKS} buildpacks per app`);
      // Checked now, so that a typo fails here rather than at the next build.
      const specs = buildpacks.map(parseBuildpackSpec);
      const app = await store.apps.update(name, { buildpacks: specs.map((spec) => spec.text) });
      return app.buildpacks;
    },

    async clearBuildCache(name) {
      await store.apps.require(name);
      await removeBuildCache(deps.settings.cacheDir, name);
    },

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
