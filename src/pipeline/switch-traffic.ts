// Switch and retire (DESIGN §1 steps 5-6): the router sends the app's
// hostnames to the new web containers in one atomic swap; the old containers
// first finish their in-flight requests, then get SIGTERM, then SIGKILL after
// the grace period.

import type { App } from '../core/types.ts';
import type { AppRoute, Backend } from '../router/types.ts';
import type { PipelineDeps, PipelineSettings } from './deps.ts';
import { type LiveContainer, webBackends } from './live-containers.ts';

type HostnameDeps = Pick<PipelineDeps, 'store'> & { readonly settings: Pick<PipelineSettings, 'domain'> };

/** `<app>.<domain>` and the app's custom domains. */
export async function appHostnames(deps: HostnameDeps, app: string): Promise<string[]> {
  return [`${app}.${deps.settings.domain}`, ...(await deps.store.domains.list(app))];
}

/** The app's route: its hostnames, these backends, its HTTPS settings. */
export async function appRoute(
  deps: HostnameDeps,
  app: Pick<App, 'name'> & Partial<App>,
  backends: readonly Backend[],
): Promise<AppRoute> {
  const https = { forceHttps: app.forceHttps === true, hsts: app.hsts === true };
  return { hostnames: await appHostnames(deps, app.name), backends, ...https };
}

export async function routeApp(deps: PipelineDeps, app: string, containers: readonly LiveContainer[]): Promise<void> {
  const record = (await deps.store.apps.get(app)) ?? { name: app };
  deps.router.setRoute(app, await appRoute(deps, record, webBackends(containers)));
  await deps.router.settled?.();
}

export async function retireContainers(deps: PipelineDeps, containers: readonly LiveContainer[]): Promise<void> {
  if (containers.length === 0) return;
  await deps.router.drain(
    containers.map((c) => c.id),
    deps.settings.drainTimeoutMs,
  );
  await stopContainers(deps, containers);
}

/** Stops containers in parallel and forgets their records. */
export async function stopContainers(deps: PipelineDeps, containers: readonly LiveContainer[]): Promise<void> {
  await Promise.all(
    containers.map(async (c) => {
      await deps.store.containers.setState(c.id, 'stopping');
      await c.handle.stop(deps.settings.stopGraceMs);
      await deps.store.containers.remove(c.id);
    }),
  );
}
