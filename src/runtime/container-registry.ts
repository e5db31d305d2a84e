// The bookkeeping every runtime driver shares: which containers run, which are
// still starting or prepared but not started, whether the driver is closed;
// the checks a spec must pass before anything is created; and the one error a
// failed start becomes.

import { SlipwayError } from '../core/errors.ts';
import type { ContainerHandle, ContainerSpec, PreparedContainer } from './types.ts';

// Ids name directories and cgroups; keep them to one plain path segment.
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function createContainerRegistry() {
  const live = new Map<string, ContainerHandle>();
  const starting = new Set<Promise<unknown>>();
  /** Ids of prepared containers not yet started or discarded. */
  const reserved = new Set<string>();
  const unstarted = new Set<PreparedContainer>();
  /** Keeps a pending preparation or start in `starting` until it settles. */
  const track = async <T>(pending: Promise<T>): Promise<T> => {
    starting.add(pending);
    try {
      return await pending;
    } finally {
      starting.delete(pending);
    }
  };
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
     * Admits the spec, runs the driver's `prepare` (which cleans up after
     * itself when it throws), and tracks the result until it is started or
     * discarded. Any failure, of the preparation or of the later start,
     * becomes `runtime.start_failed`.
     */
    async prepare(spec: ContainerSpec, prepare: () => Promise<PreparedContainer>): Promise<PreparedContainer> {
      if (closed) throw startFailed(spec, 'the runtime driver is closed');
      if (!SAFE_ID.test(spec.id)) throw startFailed(spec, `invalid container id ${JSON.stringify(spec.id)}`);
      if (live.has(spec.id) || reserved.has(spec.id))
        throw startFailed(spec, `container ${spec.id} is already running`);
      reserved.add(spec.id);
      let made: PreparedContainer;
      try {
        made = await track(prepare());
      } catch (err) {
        reserved.delete(spec.id);
        throw startFailed(spec, (err as Error).message);
      }
      if (closed) {
        // close() ran meanwhile and may already have discarded what it knew of.
        reserved.delete(spec.id);
        await made.discard();
        throw startFailed(spec, 'the runtime driver was closed while starting');
      }
      let open = true;
      const settle = () => {
        open = false;
        reserved.delete(spec.id);
        unstarted.delete(prepared);
      };
      const prepared: PreparedContainer = {
        async start() {
          if (!open) throw startFailed(spec, 'the container was already started or discarded');
          settle();
          try {
            if (closed) {
              await made.discard();
              throw new Error('the runtime driver was closed while starting');
            }
            return await track(made.start());
          } catch (err) {
            throw startFailed(spec, (err as Error).message);
          }
        },
        async discard() {
          if (!open) return;
          settle();
          await made.discard();
        },
      };
      unstarted.add(prepared);
      return prepared;
    },

    /** Prepares and starts in one go. */
    async start(spec: ContainerSpec, prepare: () => Promise<PreparedContainer>): Promise<ContainerHandle> {
      return (await this.prepare(spec, prepare)).start();
    },

    /** Refuses new starts, lets pending ones settle, discards what was prepared; running containers run on. */
    async detach(): Promise<void> {
      closed = true;
      await Promise.allSettled([...starting]);
      await Promise.allSettled([...unstarted].map((prepared) => prepared.discard()));
    },

    /** As detach, then stops every running container. */
    async close(graceMs: number): Promise<void> {
      await this.detach();
      await Promise.all([...live.values()].map((handle) => handle.stop(graceMs)));
    },
  };
}
