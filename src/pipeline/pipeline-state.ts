// What the parts of the pipeline share (app-operations, deployment-operations,
// process-operations, recover-at-start): its dependencies, the containers that
// serve now, the one lock table of the apps, the deployment queue, the
// one-off runner and the crash supervisor. Nothing outside pipeline/ sees it.

import { AppLocks } from './app-lock.ts';
import { DeployQueue } from './deploy-queue.ts';
import type { PipelineDeps } from './deps.ts';
import { LiveContainers } from './live-containers.ts';
import { type CrashSupervisor, superviseCrashes } from './restart-crashed.ts';
import { createOneOffRunner, type OneOffRunner } from './run-one-off.ts';
import { routeApp, stopContainers } from './switch-traffic.ts';

export interface PipelineState {
  readonly deps: PipelineDeps;
  readonly live: LiveContainers;
  readonly locks: AppLocks;
  readonly queue: DeployQueue;
  readonly oneOffs: OneOffRunner;
  readonly crashes: CrashSupervisor;
  /** Takes every container of the app out of the live set (so no crash restart), then stops them. */
  stopApp(app: string): Promise<void>;
}

export function pipelineState(deps: PipelineDeps): PipelineState {
  const live = new LiveContainers();
  const locks = new AppLocks();
  // The router follows a container whose address moved; under the app's lock, after any switch under way.
  live.onMoved((app) => {
    void locks.with(app, () => routeApp(deps, app, live.running(app))).catch(() => {});
  });
  return {
    deps,
    live,
    locks,
    queue: new DeployQueue(deps, live, locks),
    oneOffs: createOneOffRunner(deps),
    crashes: superviseCrashes(deps, live, locks),
    stopApp: (app) =>
      locks.with(app, async () => {
        const containers = live.get(app);
        live.set(app, []);
        await stopContainers(deps, containers);
      }),
  };
}
