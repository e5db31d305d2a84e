// Boot check for web containers: has something started accepting TCP on the
// container's port? The pipeline races this with the container's `exited`
// promise, so this only answers "connectable before the deadline or not".

import { connect } from 'node:net';

export interface WaitForPortOptions {
  readonly timeoutMs: number;
  /** Longest pause between failed attempts (they start at 5 ms and double up to this). */
  readonly intervalMs?: number;
  /** Aborting ends the wait early with `false`. */
  readonly signal?: AbortSignal;
}

/** Resolves true once a TCP connect to host:port succeeds, false at the deadline (or on abort). */
export async function waitForPort(host: string, port: number, options: WaitForPortOptions): Promise<boolean> {
  const { timeoutMs, intervalMs = 50, signal } = options;
  const deadline = Date.now() + timeoutMs;
  // A loopback connect costs microseconds: poll often while an app is likely
  // just starting, then settle at `intervalMs` for slow boots.
  let interval = Math.min(5, intervalMs);
  // Always try at least once, so a zero timeout still answers "is it up now?".
  for (;;) {
    if (signal?.aborted) return false;
    if (await tryConnect(host, port, Math.max(deadline - Date.now(), 1), signal)) return true;
    const pause = Math.min(interval, deadline - Date.now());
    interval = Math.min(interval * 2, intervalMs);
    if (pause <= 0) return false;
    await sleep(pause, signal);
  }
}

function tryConnect(host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
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
    socket.once('connect', () => settle(true));
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
