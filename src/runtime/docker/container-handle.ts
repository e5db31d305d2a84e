// A Docker container's handle, whoever watches its process: the `docker start
// --attach` client of a container this driver started, or the wait of one it
// adopted at start-up (left running by an earlier run). Both end the same way:
// the exit decoded (an OOM kill told apart), the container and its writable
// view removed, its port released.

import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { listeningPorts } from '../listening-ports.ts';
import { decodeExit } from '../sandbox/sandbox-argv.ts';
import type { ContainerExit, ContainerHandle } from '../types.ts';
import type { Engine } from './engine.ts';

export interface DockerHandleOptions {
  readonly engine: Engine;
  readonly id: string;
  /** `web-1`. */
  readonly name: string;
  /** The Docker container's name. */
  readonly container: string;
  readonly pid: number | undefined;
  readonly address: ContainerHandle['address'];
  readonly stdin: Writable | null;
  /** Settles when whatever watches the container's main process saw it end (its output read). */
  readonly processEnded: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }>;
  /** Removes the container and its writable view (force: kills it first). */
  readonly remove: () => Promise<void>;
  /** Once removed: its port released, the driver's records updated. */
  readonly forget: () => void;
  /** True once the driver let go of it (a server stopping with the apps kept): its watcher's end is not its end. */
  readonly letGo: () => boolean;
  readonly log?: Logger | undefined;
  readonly context: Record<string, unknown>;
}

export function dockerHandle(options: DockerHandleOptions): ContainerHandle {
  const { engine, container, pid, log, context } = options;
  let running = true;
  let killedByUs = false;
  const ended = options.processEnded.then(async (exit): Promise<ContainerExit> => {
    // Let go of (the server stops, the container runs on): its end is the next run's to see.
    if (options.letGo()) return new Promise<never>(() => {});
    running = false;
    if (exit.spawnError !== undefined) log?.error({ ...context, reason: exit.spawnError }, 'container could not start');
    const decoded = decodeExit(exit.code, exit.signal);
    // The kernel's OOM killer sends SIGKILL; a SIGKILL of our own (stop) is not what ended it.
    const outOfMemory =
      decoded.signal === 'SIGKILL' &&
      !killedByUs &&
      (
        await engine
          .request<{ State: { OOMKilled: boolean } }>('GET', `/containers/${container}/json`)
          .catch(() => null)
      )?.State.OOMKilled === true;
    return outOfMemory ? { ...decoded, outOfMemory } : decoded;
  });
  const exited = ended.then(async (result) => {
    try {
      await options.remove();
    } catch (err) {
      log?.error({ ...context, err }, 'could not remove the container; left in place');
    }
    options.forget();
    log?.debug({ ...context, ...result }, 'container exited');
    return result;
  });
  const kill = (signal: string) =>
    engine.request('POST', `/containers/${container}/kill?signal=${signal}`).catch(() => {});
  return {
    id: options.id,
    name: options.name,
    pid,
    address: options.address,
    stdin: options.stdin,
    listeningPorts: () => (pid === undefined ? [] : listeningPorts(pid)),
    ended,
    exited,
    async stop(graceMs: number) {
      if (!running) return exited;
      if (graceMs > 0) {
        await kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([exited, graceOver]);
        clearTimeout(timer);
      }
      if (running) {
        killedByUs = true;
        // Kills and removes in one request; `exited` removes again, harmlessly.
        await options.remove().catch(() => kill('SIGKILL'));
      }
      return exited;
    },
  };
}
