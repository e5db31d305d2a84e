// Puts the pipeline together (pipeline.ts is its face) from its parts: app,
// deployment and process operations over one shared state, start-up recovery
// and shutdown. Nothing here knows HTTP.

import { appOperations } from './app-operations.ts';
import { deploymentOperations } from './deployment-operations.ts';
import type { PipelineDeps } from './deps.ts';
import type { Pipeline } from './pipeline.ts';
import { pipelineState } from './pipeline-state.ts';
import { processOperations } from './process-operations.ts';
import { recoverAtStart } from './recover-at-start.ts';
import { volumeOperations } from './volume-operations.ts';

export type { DeployMeta, Pipeline } from './pipeline.ts';
export { routeAppsWithoutBackends } from './recover-at-start.ts';

export function createPipeline(deps: PipelineDeps): Pipeline {
  const state = pipelineState(deps);
  return {
    ...appOperations(state),
    ...deploymentOperations(state),
    ...processOperations(state),
    ...volumeOperations(state),
    start: (mark) => recoverAtStart(state, mark),
    async close() {
      state.crashes.close();
      await state.queue.close('control-plane shutdown');
      // Kept for the next start to adopt (SLIPWAY_KEEP_APPS_ON_EXIT), where the runtime can.
      if (deps.settings.keepAppsOnExit && deps.runtime.detach) return;
      await Promise.all(state.live.apps().map(state.stopApp));
    },
  };
}
