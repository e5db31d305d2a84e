// The bookkeeping every runtime driver shares: which containers run, which are
// still starting, whether the driver is closed; the checks a spec must pass
// before anything is created; and the one error a failed start becomes.

import { SlipwayError } from '../core/errors.ts';
import type { ContainerHandle, ContainerSpec } from './types.ts';

// Ids name directories and cgroups; keep them to one plain path segment.
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function createContainerRegistry() {
  const live = new Map<string, ContainerHandle>();
  const starting = new Set<Promise<unknown>>();
  let closed = false;

  const startFailed = (spec: ContainerSpec, reason: string) =>
    new SlipwayError('runtime.start_failed', `cannot start ${spec.name}: ${reason}`, {
      container: spec.name,
      id: spec.id,
      reason,
    });

  return {
    /** Running containers by id: a driver adds a handle once started and deletes it once gone. */
    live,

    /** Throws (to be reported as a failed start) when close() ran meanwhile. */
    throwIfClosed(): void {
      if (closed) throw new Error('the runtime driver was closed while starting');
    },

    /**
     * Admits the spec, runs the driver's `launch` (which cleans up after itself
     * when it throws), tracks it until it settles, and turns any failure into
     * `runtime.start_failed`.
     */
    async start(spec: ContainerSpec, launch: () => Promise<ContainerHandle>): Promise<ContainerHandle> {
      if (closed) throw startFailed(spec, 'the runtime driver is closed');
      if (!SAFE_ID.test(spec.id)) throw startFailed(spec, `invalid container id ${JSON.stringify(spec.id)}`);
      if (live.has(spec.id)) throw startFailed(spec, `container ${spec.id} is already running`);
      const pending = launch().catch((err: unknown) => {
        throw startFailed(spec, (err as Error).message);
      });
      starting.add(pending);
      try {
        return await pending;
      } finally {
        starting.delete(pending);
      }
    },

    /** Refuses new starts, lets pending ones settle, stops every running container. */
    async close(graceMs: number): Promise<void> {
      closed = true;
      await Promise.allSettled([...starting]);
      await Promise.all([...live.values()].map((handle) => handle.stop(graceMs)));
    },
  };
}
