// A service's output as it prints it: dockerd's service log stream, followed
// while the task runs, then read once more to its end after the task has
// ended (a followed service stream never ends by itself: Swarm may start more
// tasks), emitting only the frames not seen yet. Frames become lines per stream.

import { StringDecoder } from 'node:string_decoder';
import type { Engine } from '../docker/engine.ts';
import type { ContainerSpec } from '../types.ts';
import { type Frame, readFrames } from './engine-stream.ts';

/** How long after a task ended its log may still be being written. */
const LOG_FLUSH_MS = 300;
/** At most this many reads of a failed task's log (about 1.5 s). */
const CATCH_UP_ROUNDS = 5;

export interface ServiceOutput {
  /** Reads what a task that ended has printed, while the stream follows the tasks after it. */
  catchUp(): Promise<void>;
  /** Reads what is left once the task has ended, and flushes a last line without newline. */
  finish(): Promise<void>;
}

export function followServiceOutput(
  engine: Engine,
  service: string,
  spec: Pick<ContainerSpec, 'onLine' | 'onData'>,
  /** Only what it prints from then on (a unix time in seconds): a service adopted at start-up. */
  since?: number,
): ServiceOutput {
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const pending = { stdout: '', stderr: '' };
  let seen = 0;
  const emit = (frame: Frame) => {
    seen++;
    spec.onData?.(frame.stream, frame.payload);
    let text = pending[frame.stream] + decoders[frame.stream].write(frame.payload);
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      spec.onLine(frame.stream, text.slice(0, newline));
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    pending[frame.stream] = text;
  };
  const from = since === undefined ? '' : `&since=${since.toFixed(3)}`;
  const logs = (follow: boolean) => `/services/${service}/logs?stdout=1&stderr=1&follow=${follow ? 1 : 0}${from}`;
  /** Reads the output printed so far to its end, emitting the frames not seen yet. */
  const readToEnd = async () => {
    let index = 0;
    await readFrames(engine, logs(false), (frame) => {
      if (index++ >= seen) emit(frame);
    }).catch(() => {});
  };
  const abort = new AbortController();
  // The followed stream skips what a catch-up already emitted.
  let followed = 0;
  const following = readFrames(
    engine,
    logs(true),
    (frame) => {
      if (followed++ >= seen) emit(frame);
    },
    abort.signal,
  ).catch(() => {});
  return {
    async catchUp() {
      // A task's state reaches the manager before its last lines reach its log file (under
      // load, later than one flush's wait): read again until a read brings nothing new.
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
        const before = seen;
        await new Promise((resolve) => setTimeout(resolve, LOG_FLUSH_MS));
        await readToEnd();
        if (round > 0 && seen === before) return;
      }
    },
    async finish() {
      abort.abort();
      await following;
      await readToEnd();
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = pending[stream] + decoders[stream].end();
        if (rest !== '') spec.onLine(stream, rest);
        pending[stream] = '';
      }
    },
  };
}
