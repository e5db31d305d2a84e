// The pipeline's public face: app lifecycle, deployments, config changes,
// releases, processes, domains, start-up and shutdown. The API calls these;
// nothing here knows HTTP.

import fs from 'node:fs';
import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import { FINAL_STATUSES } from '../core/lifecycle.ts';
import { validateAppName, validateConfigKey, validateConfigValue, validateHostname } from '../core/names.ts';
import { type App, type ConfigVars, type Deployment, releaseName } from '../core/types.ts';
import { AppLocks } from './app-lock.ts';
import { bootRelease } from './boot-release.ts';
import { DeployQueue } from './deploy-queue.ts';
import type { PipelineDeps } from './deps.ts';
import { type LiveContainer, LiveContainers } from './live-containers.ts';
import { announceQueued, queueReleaseDeployment, redeployTarget, rollbackTarget } from './release-deployments.ts';
import { superviseCrashes } from './restart-crashed.ts';
import { archivePath } from './run-deployment.ts';
import { createOneOffRunner, type OneOffRequest } from './run-one-off.ts';
import { applyFormation, currentRelease, restartProcesses, validateQuantities } from './scale-processes.ts';
import { appHostnames, routeApp, stopContainers } from './switch-traffic.ts';

export interface DeployMeta {
  readonly source: string;
  readonly commitSha?: string | null;
  readonly gitRef?: string | null;
  readonly author?: string | null;
}

export type Pipeline = ReturnType<typeof createPipeline>;

export function createPipeline(deps: PipelineDeps) {
  const live = new LiveContainers();
  const locks = new AppLocks();
  const queue = new DeployQueue(deps, live, locks);
  const crashes = superviseCrashes(deps, live, locks);
  const { store } = deps;
  const oneOffs = createOneOffRunner(deps);

  /** Takes every container of the app out of the live set (so no crash restart), then stops them. */
  const stopApp = (app: string) =>
    locks.with(app, async () => {
      const containers = live.get(app);
      live.set(app, []);
      await stopContainers(deps, containers);
    });

  return {
    live,

    async createApp(name: string): Promise<App> {
      const app = await store.apps.create(validateAppName(name));
      await routeApp(deps, app.name, []);
      return app;
    },

    async destroyApp(name: string): Promise<void> {
      await store.apps.require(name);
      queue.abort(name, 'app destroyed');
      await queue.idle(name);
      deps.router.removeRoute(name);
      await Promise.all([stopApp(name), oneOffs.stopAll(name)]);
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

    /** Queues a deployment of an uploaded archive; the archive file is moved into the builds dir. */
    async deployArchive(app: string, archive: string, meta: DeployMeta): Promise<Deployment> {
      await store.apps.require(app);
      deps.disk.check('the deployment');
      const deployment = await store.deployments.create({ app, kind: 'build', ...meta });
      // One metadata write: microseconds, where a trip to the thread pool can cost milliseconds on a busy host.
      fs.renameSync(archive, archivePath(deps, deployment.id));
      deps.logs.append(deployment.id, `=====> Deployment ${deployment.id} of ${app} queued`);
      queue.kick(app);
      return deployment;
    },

    /** Sets/unsets config vars; with a current release, rolls out a new release (no hook). */
    async updateConfig(app: string, changes: Record<string, string | null>, author: string | null = null) {
      const current = await store.apps.require(app);
      const keys = Object.keys(changes);
      if (keys.length === 0) throw new SlipwayError('request.invalid', 'no config vars given');
      for (const [key, value] of Object.entries(changes)) {
        validateConfigKey(key);
        if (value !== null) validateConfigValue(key, value);
      }
      deps.disk.check('the config change');
      const base = current.currentRelease === null ? undefined : await store.releases.get(app, current.currentRelease);
      // The config, its release and its deployment are written together, or not at all.
      const { config, queued } = await store.transaction(async (tx) => ({
        config: await tx.config.update(app, changes),
        queued: base
          ? await queueReleaseDeployment(
              deps,
              { kind: 'config', base, description: describeConfigChange(changes), runHook: false, author },
              tx,
            )
          : null,
      }));
      if (queued) {
        announceQueued(deps, queued);
        queue.kick(app);
      }
      return { config, deployment: queued?.deployment ?? null };
    },

    /** `slipway run`: starts a one-off container of the current release. */
    runOneOff: (app: string, request: OneOffRequest) => oneOffs.start(app, request),

    async config(app: string): Promise<ConfigVars> {
      await store.apps.require(app);
      return store.config.get(app);
    },

    /** Deploys release `version`'s slug with the current config; the hook runs unless `runHook` is false. */
    async rollback(app: string, version: number, runHook: boolean, author: string | null): Promise<Deployment> {
      const base = await rollbackTarget(deps, app, version);
      deps.disk.check('the rollback');
      const queued = await store.transaction((tx) =>
        queueReleaseDeployment(
          deps,
          { kind: 'rollback', base, description: `Rollback to ${releaseName(version)}`, runHook, author },
          tx,
        ),
      );
      announceQueued(deps, queued);
      queue.kick(app);
      return queued.deployment;
    },

    /** Boot, hook and switch again for the latest code release, without rebuilding, with the current config. */
    async redeploy(app: string, author: string | null): Promise<Deployment> {
      const base = await redeployTarget(deps, app);
      deps.disk.check('the redeploy');
      const queued = await store.transaction((tx) =>
        queueReleaseDeployment(
          deps,
          { kind: 'redeploy', base, description: `Redeploy ${releaseName(base.version)}`, runHook: true, author },
          tx,
        ),
      );
      announceQueued(deps, queued);
      queue.kick(app);
      return queued.deployment;
    },

    /** Cancels a queued or running deployment: it ends `aborted` and the current release keeps serving. */
    async cancelDeployment(app: string, id: string, author: string | null): Promise<Deployment> {
      const deployment = await store.deployments.get(id);
      if (!deployment || deployment.app !== app) {
        throw new SlipwayError('deployment.not_found', `deployment "${id}" not found`, { deployment: id });
      }
      if (FINAL_STATUSES.has(deployment.status)) {
        throw new SlipwayError(
          'deployment.not_cancellable',
          `deployment ${id} already ended (${deployment.status}): nothing to cancel`,
        );
      }
      await queue.cancel(app, id, `cancelled${author ? ` by ${author}` : ''}`);
      return (await store.deployments.get(id)) ?? deployment;
    },

    /** Sets quantities per process type and applies them to the current release at once. */
    async scale(app: string, quantities: Readonly<Record<string, unknown>>): Promise<Record<string, number>> {
      const release = await currentRelease(deps, app);
      const valid = validateQuantities(release, quantities, await store.formation.get(app));
      await store.formation.set(app, valid);
      await locks.with(app, () => applyFormation(deps, live, app));
      return store.formation.get(app);
    },

    /** Replaces the containers of a type (or all), one by one. Returns how many were restarted. */
    async restart(app: string, type?: string): Promise<number> {
      return locks.with(app, () => restartProcesses(deps, live, app, type));
    },

    async domains(app: string): Promise<string[]> {
      await store.apps.require(app);
      return store.domains.list(app);
    },

    async addDomain(app: string, hostname: string): Promise<string> {
      const host = validateHostname(hostname, deps.settings.domain);
      await store.domains.add(app, host);
      await locks.with(app, () => routeApp(deps, app, live.running(app)));
      return host;
    },

    async removeDomain(app: string, hostname: string): Promise<void> {
      await store.domains.remove(app, hostname.trim().toLowerCase());
      await locks.with(app, () => routeApp(deps, app, live.running(app)));
    },

    /**
     * Start-up (recovery): stop what a crashed run left behind, end interrupted
     * deployments, boot the current releases, resume the queues.
     */
    async start(mark: (phase: string) => void = () => {}): Promise<void> {
      const swept = await deps.runtime.sweep();
      if (swept > 0) deps.logger.warn({ containers: swept }, 'stopped containers left by an earlier run');
      const unfinished = await store.deployments.listUnfinished();
      await removeLeftovers(deps, new Set(unfinished.filter((d) => d.status === 'queued').map((d) => d.id)));
      mark('sweep');
      for (const d of unfinished) {
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
      mark('aborts');
      // Every app's release boots at once (a boot mostly waits for the app to listen).
      await Promise.all(
        (await store.apps.list()).map(async (app) => {
          await routeApp(deps, app.name, []);
          if (app.currentRelease !== null) await bootCurrent(app.name);
          queue.kick(app.name);
        }),
      );
    },

    async close(): Promise<void> {
      crashes.close();
      await queue.close('control-plane shutdown');
      await Promise.all(live.apps().map(stopApp));
    },
  };

  async function bootCurrent(app: string): Promise<void> {
    const started: LiveContainer[] = [];
    try {
      const release = await currentRelease(deps, app);
      const booted = await bootRelease(deps, release, {
        log: () => {},
        signal: AbortSignal.timeout(deps.settings.bootTimeoutMs + 5000),
        started,
      });
      booted.disarm();
      live.set(app, started);
      await routeApp(deps, app, live.running(app));
    } catch (err) {
      await stopContainers(deps, started);
      deps.logger.error({ err, app }, 'could not restart the current release');
    }
  }
}

/**
 * Start-up, before the runtime is ready: every app answers 503 (no running
 * web process) rather than 404 (no such app) until its release is back.
 */
export async function routeAppsWithoutBackends(
  deps: Pick<PipelineDeps, 'store' | 'router'> & { readonly settings: { readonly domain: string } },
): Promise<void> {
  for (const app of await deps.store.apps.list()) {
    deps.router.setRoute(app.name, { hostnames: await appHostnames(deps, app.name), backends: [] });
  }
  await deps.router.settled?.();
}

/**
 * What a crash left in the builds directory: build directories of interrupted
 * deployments, half-received uploads and downloads, git fetches. Only the
 * archives of deployments still queued stay: they still run. Nothing else
 * writes there yet (the API is not loaded, the queues not started).
 */
async function removeLeftovers(deps: PipelineDeps, queued: ReadonlySet<string>): Promise<void> {
  const names = await fs.promises.readdir(deps.settings.buildsDir).catch(() => []);
  const leftovers = names.filter((name) => !(name.endsWith('.tar.gz') && queued.has(name.slice(0, -'.tar.gz'.length))));
  await Promise.all(
    leftovers.map((name) => fs.promises.rm(path.join(deps.settings.buildsDir, name), { recursive: true, force: true })),
  );
  if (leftovers.length > 0)
    deps.logger.info({ entries: leftovers.length }, 'removed what an earlier run left in the builds directory');
}

function describeConfigChange(changes: Record<string, string | null>): string {
  const set = Object.keys(changes).filter((k) => changes[k] !== null);
  const unset = Object.keys(changes).filter((k) => changes[k] === null);
  const parts = [];
  if (set.length) parts.push(`Set ${set.join(', ')}`);
  if (unset.length) parts.push(`Unset ${unset.join(', ')}`);
  return `${parts.join('; ')} config vars`;
}
