// The pipeline's process operations: scale (before the first release too: its
// deployment uses it), a new app's formation, rolling restarts and one-off
// runs, each on the current release.

import { SlipwayError } from '../core/errors.ts';
import { liveRelease } from './current-release.ts';
import type { Pipeline } from './pipeline.ts';
import type { PipelineState } from './pipeline-state.ts';
import { applyFormation, MAX_CONTAINERS_PER_APP, restartProcesses, validateQuantities } from './scale-processes.ts';

type ProcessOperations = Pick<Pipeline, 'scale' | 'setFormation' | 'restart' | 'runOneOff' | 'nodes'>;

export function processOperations(state: PipelineState): ProcessOperations {
  const { deps, live, locks, oneOffs } = state;
  const { store } = deps;
  return {
    async scale(app, quantities) {
      // Before the first release, the formation is stored for the first deployment to use.
      const release = await liveRelease(store, app);
      const valid = validateQuantities(app, release, quantities, await store.formation.get(app));
      await store.formation.set(app, valid);
      if (release) await locks.with(app, () => applyFormation(deps, live, app));
      return store.formation.get(app);
    },

    async setFormation(app, quantities) {
      await store.apps.require(app);
      const total = Object.values(quantities).reduce((sum, n) => sum + n, 0);
      if (total > MAX_CONTAINERS_PER_APP) {
        throw new SlipwayError(
          'formation.invalid',
          `the formation asks for ${total} containers: at most ${MAX_CONTAINERS_PER_APP} per app`,
        );
      }
      if (Object.keys(quantities).length > 0) await store.formation.set(app, quantities);
    },

    restart: (app, type) => locks.with(app, () => restartProcesses(deps, live, app, type)),

    runOneOff: (app, request) => oneOffs.start(app, request),

    nodes(app) {
      const nodes = new Map<string, string>();
      for (const c of live.get(app)) if (c.handle.node !== undefined) nodes.set(c.id, c.handle.node);
      return nodes;
    },
  };
}
