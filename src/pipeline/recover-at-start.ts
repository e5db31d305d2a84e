// Start-up after a restart or a crash: what the dead run left is stopped and
// removed (but the containers of current releases that still run, where the
// runtime can adopt them: adopt-containers.ts), interrupted deployments end
// `aborted`, the current releases boot again (all apps at once, what was not
// adopted), and the queues resume.

import fs from 'node:fs';
import path from 'node:path';
import { adoptContainers } from './adopt-containers.ts';
import type { PipelineDeps } from './deps.ts';
import type { PipelineState } from './pipeline-state.ts';
import { applyFormation } from './scale-processes.ts';
import { appRoute, routeApp } from './switch-traffic.ts';

export async function recoverAtStart(state: PipelineState, mark: (phase: string) => void = () => {}): Promise<void> {
  const { deps, queue } = state;
  const { store } = deps;
  // Containers that outlived the server (docker, swarm) keep serving; the sweep removes the rest.
  const adopted = await adoptContainers(deps);
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
  const kept = new Set([...adopted.values()].flat().map((c) => c.id));
  for (const stale of await store.containers.list()) if (!kept.has(stale.id)) await store.containers.remove(stale.id);
  mark('aborts');
  // Every app routed to what was adopted (or to nothing: 503) before a router that
  // outlived the server applies changes again; then every release boots at once (a
  // boot mostly waits for the app to listen).
  const apps = await store.apps.list();
  await Promise.all(
    apps.map(async (app) => {
      state.live.set(app.name, adopted.get(app.name) ?? []);
      await routeApp(deps, app.name, state.live.running(app.name));
    }),
  );
  deps.router.startUpDone?.();
  await Promise.all(
    apps.map(async (app) => {
      if (app.currentRelease !== null) await bootCurrent(state, app.name);
      queue.kick(app.name);
    }),
  );
}

/**
 * The app's current release, its whole formation (beside what was adopted), routed;
 * a failure is logged and leaves the app at 503 (or with what was adopted).
 */
async function bootCurrent({ deps, live }: PipelineState, app: string): Promise<void> {
  try {
    await applyFormation(deps, live, app);
  } catch (err) {
    deps.logger.error({ err, app }, 'could not restart the current release');
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
    deps.router.setRoute(app.name, await appRoute(deps, app, []));
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
