// Boot check for web containers: has something started accepting TCP on the
// container's port? The pipeline races this with the container's `exited`
// promise, so this only answers "connectable before the deadline or not".

import { connect } from 'node:net';

export interface WaitForPortOptions {
  readonly timeoutMs: number;
  /** Pause between failed attempts once the first 3 s have passed (they are 2 ms apart until then). */
  readonly intervalMs?: number;
  /** Aborting ends the wait early with `false`. */
  readonly signal?: AbortSignal;
  /**
   * Behind a proxy that accepts before the container does (dockerd's userland proxy of a
   * published port), a connection counts only once the proxy has kept it open this long:
   * it closes it at once when nothing listens behind it.
   */
  readonly heldForMs?: number;
}

const FAST_POLL_MS = 2;
const FAST_POLL_FOR_MS = 3000;

/** Resolves true once a TCP connect to host:port succeeds, false at the deadline (or on abort). */
export async function waitForPort(host: string, port: number, options: WaitForPortOptions): Promise<boolean> {
  const { timeoutMs, intervalMs = 50, signal, heldForMs = 0 } = options;
  const started = Date.now();
  const deadline = started + timeoutMs;
  // A refused loopback connect costs tens of microseconds: poll every 2 ms
  // while an app is likely just starting (a doubling interval would notice
  // readiness up to its last interval late, tens of ms on every deployment),
  // then settle at `intervalMs` for slow boots.
  // Always try at least once, so a zero timeout still answers "is it up now?".
  for (;;) {
    if (signal?.aborted) return false;
    if (await tryConnect(host, port, Math.max(deadline - Date.now(), 1), signal, heldForMs)) return true;
    const interval = Date.now() - started < FAST_POLL_FOR_MS ? Math.min(FAST_POLL_MS, intervalMs) : intervalMs;
    const pause = Math.min(interval, deadline - Date.now());
    if (pause <= 0) return false;
    await sleep(pause, signal);
  }
}

function tryConnect(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  heldForMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    // A connect can hang (SYN dropped by a firewall); never wait past the deadline.
    const timer = setTimeout(() => settle(false), timeoutMs);
    const onAbort = () => settle(false);
    function settle(connected: boolean) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(connected);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      if (heldForMs <= 0) return settle(true);
      const held = setTimeout(() => settle(true), heldForMs);
      socket.once('close', () => {
        clearTimeout(held);
        settle(false);
      });
    });
    socket.once('error', () => settle(false));
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
