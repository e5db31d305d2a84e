// Start-up on a runtime whose containers outlive the server (docker, swarm):
// the containers an earlier run left running that belong to an app's current
// release and formation are taken over as they run (no restart), recorded and
// routed, instead of being swept and started again. Anything else the runtime
// finds (another release, a one-off run, a hook, a container beyond the
// formation, one of an app deleted meanwhile) is not chosen: `sweep` removes it.

import { containerName } from '../core/container-env.ts';
import { type Release, releaseName } from '../core/types.ts';
import type { ContainerSpec, FoundContainer } from '../runtime/types.ts';
import { type PlannedContainer, plannedContainers } from './boot-release.ts';
import type { PipelineDeps } from './deps.ts';
import { type LiveContainer, OUTPUT_TAIL_LINES } from './live-containers.ts';

/** The adopted containers, per app; empty when the runtime adopts nothing. */
export async function adoptContainers(deps: PipelineDeps): Promise<Map<string, LiveContainer[]>> {
  const adopted = new Map<string, LiveContainer[]>();
  if (deps.runtime.adopt === undefined) return adopted;
  const wanted = await wantedContainers(deps);
  const records = new Map((await deps.store.containers.list()).map((c) => [c.id, c]));
  const chosen = new Map<string, { release: Release; plan: PlannedContainer; recentOutput: string[] }>();
  const choose = (found: FoundContainer): ContainerSpec['onLine'] | null => {
    const current = wanted.get(found.app);
    const plan = current?.byName.get(found.name);
    if (!current || !plan || found.release !== releaseName(current.release.version)) return null;
    // One container per name: a second one (a crash mid-restart) is swept.
    current.byName.delete(found.name);
    const recentOutput: string[] = [];
    chosen.set(found.id, { release: current.release, plan, recentOutput });
    return (_stream, line) => {
      deps.appLogs.write(found.app, found.name, line);
      recentOutput.push(line);
      if (recentOutput.length > OUTPUT_TAIL_LINES) recentOutput.shift();
    };
  };
  for (const handle of await deps.runtime.adopt(choose)) {
    const picked = chosen.get(handle.id);
    if (picked === undefined) continue; // never handed out: the driver only adopts what was chosen
    const { release, plan, recentOutput } = picked;
    const record = records.get(handle.id);
    const container: LiveContainer = {
      id: handle.id,
      name: handle.name,
      type: plan.type,
      index: plan.index,
      releaseVersion: release.version,
      handle,
      startedAt: record?.startedAt ?? new Date().toISOString(),
      restarts: record?.restarts ?? 0,
      recentOutput,
    };
    await deps.store.containers.put({
      id: container.id,
      app: release.app,
      name: container.name,
      type: container.type,
      releaseVersion: release.version,
      state: 'up',
      port: handle.address?.port ?? null,
      pid: handle.pid ?? null,
      startedAt: container.startedAt,
      restarts: container.restarts,
    });
    adopted.set(release.app, [...(adopted.get(release.app) ?? []), container]);
  }
  const count = [...adopted.values()].reduce((sum, list) => sum + list.length, 0);
  if (count > 0) deps.logger.info({ containers: count }, 'adopted the containers an earlier run left serving');
  return adopted;
}

/** Per app with a current release: that release, and its formation's containers by name. */
async function wantedContainers(deps: PipelineDeps) {
  const wanted = new Map<string, { release: Release; byName: Map<string, PlannedContainer> }>();
  for (const app of await deps.store.apps.list()) {
    if (app.currentRelease === null) continue;
    const release = await deps.store.releases.get(app.name, app.currentRelease);
    if (release === undefined) continue;
    const planned = await plannedContainers(deps, release);
    wanted.set(app.name, { release, byName: new Map(planned.map((p) => [containerName(p), p])) });
  }
  return wanted;
}
