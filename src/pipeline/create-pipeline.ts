// The pipeline's public face: app lifecycle, deployments, config changes,
// start-up and shutdown. The API calls these; nothing here knows HTTP.

import fs from 'node:fs';
import { SlipwayError } from '../core/errors.ts';
import { validateAppName, validateConfigKey, validateConfigValue } from '../core/names.ts';
import type { App, ConfigVars, Deployment } from '../core/types.ts';
import { plannedContainers, startContainer } from './boot-release.ts';
import { DeployQueue } from './deploy-queue.ts';
import type { PipelineDeps } from './deps.ts';
import { type LiveContainer, LiveContainers } from './live-containers.ts';
import { archivePath } from './run-deployment.ts';
import { createOneOffRunner, type OneOffRequest } from './run-one-off.ts';
import { appHostnames, routeApp, stopContainers } from './switch-traffic.ts';

export interface DeployMeta {
  readonly source: string;
  readonly commitSha?: string | null;
  readonly gitRef?: string | null;
}

export type Pipeline = ReturnType<typeof createPipeline>;

export function createPipeline(deps: PipelineDeps) {
  const live = new LiveContainers();
  const queue = new DeployQueue(deps, live);
  const { store } = deps;
  const startOneOff = createOneOffRunner(deps);

  return {
    live,

    async createApp(name: string): Promise<App> {
      const app = await store.apps.create(validateAppName(name));
      deps.router.setRoute(app.name, { hostnames: appHostnames(deps, app.name), backends: [] });
      return app;
    },

    async destroyApp(name: string): Promise<void> {
      await store.apps.require(name);
      queue.abort(name, 'app destroyed');
      await queue.idle(name);
      deps.router.removeRoute(name);
      await stopContainers(deps, live.get(name));
      live.set(name, []);
      const releases = await store.releases.list(name);
      const deployments = await store.deployments.list(name, 100_000);
      await store.apps.delete(name);
      for (const release of releases) await deps.slugs.remove(name, release.slugId);
      for (const d of deployments) deps.logs.remove(d.id);
      await deps.appLogs.remove(name);
    },

    /** Queues a deployment of an uploaded archive; the archive file is moved into the builds dir. */
    async deployArchive(app: string, archive: string, meta: DeployMeta): Promise<Deployment> {
      await store.apps.require(app);
      const deployment = await store.deployments.create({ app, kind: 'build', ...meta });
      await fs.promises.rename(archive, archivePath(deps, deployment.id));
      deps.logs.append(deployment.id, `=====> Deployment ${deployment.id} of ${app} queued`);
      queue.kick(app);
      return deployment;
    },

    /** Sets/unsets config vars; with a current release, rolls out a new release (no hook). */
    async updateConfig(app: string, changes: Record<string, string | null>) {
      const current = await store.apps.require(app);
      const keys = Object.keys(changes);
      if (keys.length === 0) throw new SlipwayError('request.invalid', 'no config vars given');
      for (const [key, value] of Object.entries(changes)) {
        validateConfigKey(key);
        if (value !== null) validateConfigValue(key, value);
      }
      const config = await store.config.update(app, changes);
      let deployment: Deployment | null = null;
      const base = current.currentRelease === null ? undefined : await store.releases.get(app, current.currentRelease);
      if (base) {
        const release = await store.releases.create({
          ...base,
          config,
          description: describeConfigChange(changes),
          deploymentId: null,
        });
        deployment = await store.deployments.create({
          app,
          kind: 'config',
          source: 'config',
          releaseVersion: release.version,
          commitSha: base.commitSha,
        });
        deps.logs.append(deployment.id, `=====> ${release.description}: restarting ${app} with v${release.version}`);
        queue.kick(app);
      }
      return { config, deployment };
    },

    /** `slipway run`: starts a one-off container of the current release. */
    runOneOff: (app: string, request: OneOffRequest) => startOneOff(app, request),

    async config(app: string): Promise<ConfigVars> {
      await store.apps.require(app);
      return store.config.get(app);
    },

    /** Start-up: end interrupted deployments, boot current releases, resume queues. */
    async start(): Promise<void> {
      for (const d of await store.deployments.listUnfinished()) {
        if (d.status === 'queued') continue;
        await store.deployments.update(d.id, {
          status: 'aborted',
          error: {
            code: 'deploy.aborted',
            message: `interrupted at step ${d.step ?? 'queued'} by a control-plane restart`,
          },
          finishedAt: new Date().toISOString(),
        });
        deps.logs.append(d.id, '=====> Deployment aborted: control-plane restart');
        deps.logs.finish(d.id);
      }
      for (const stale of await store.containers.list()) await store.containers.remove(stale.id);
      for (const app of await store.apps.list()) {
        deps.router.setRoute(app.name, { hostnames: appHostnames(deps, app.name), backends: [] });
        const release =
          app.currentRelease === null ? undefined : await store.releases.get(app.name, app.currentRelease);
        if (release) {
          const started: LiveContainer[] = [];
          try {
            for (const plan of await plannedContainers(deps, release))
              started.push(await startContainer(deps, app, release, plan));
            live.set(app.name, started);
            routeApp(deps, app.name, started);
          } catch (err) {
            deps.logger.error({ err, app: app.name }, 'could not restart the current release');
          }
        }
        queue.kick(app.name);
      }
    },

    async close(): Promise<void> {
      await queue.close('control-plane shutdown');
      for (const app of live.apps()) {
        await stopContainers(deps, live.get(app));
        live.set(app, []);
      }
    },
  };
}

function describeConfigChange(changes: Record<string, string | null>): string {
  const set = Object.keys(changes).filter((k) => changes[k] !== null);
  const unset = Object.keys(changes).filter((k) => changes[k] === null);
  const parts = [];
  if (set.length) parts.push(`Set ${set.join(', ')}`);
  if (unset.length) parts.push(`Unset ${unset.join(', ')}`);
  return `${parts.join('; ')} config vars`;
}
