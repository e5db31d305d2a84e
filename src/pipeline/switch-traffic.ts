// Switch and retire (DESIGN §1 steps 5-6): the router sends the app's
// hostnames to the new web containers in one atomic swap; the old containers
// first finish their in-flight requests, then get SIGTERM, then SIGKILL after
// the grace period.

import type { PipelineDeps } from './deps.ts';
import { type LiveContainer, webBackends } from './live-containers.ts';

export function appHostnames(deps: PipelineDeps, app: string): string[] {
  return [`${app}.${deps.settings.domain}`];
}

export function routeApp(deps: PipelineDeps, app: string, containers: readonly LiveContainer[]): void {
  deps.router.setRoute(app, { hostnames: appHostnames(deps, app), backends: webBackends(containers) });
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
