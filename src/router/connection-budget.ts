// Connection budgets: each listener (the router in each of its processes,
// the API) accepts at most its own number of connections, so that a flood of
// one never takes the file descriptors the other needs. A connection over the
// budget is closed as soon as it is accepted (node's `maxConnections`),
// counted, and reported in one log line per burst, not one per connection.

import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';

interface WarnLog {
  warn(obj: object, msg: string): void;
}

/** How long a client may take to send a request's headers (a connection that sends nothing included). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
const REPORT_EVERY_MS = 10_000;

/**
 * node:http options enforcing `headersTimeoutMs`: node checks it on a timer
 * (every 30 s by default, which would let a slow client keep its connection
 * up to 30 s past the limit), here at a quarter of it, at most every 5 s.
 */
export function headerDeadline(headersTimeoutMs: number) {
  return {
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: Math.min(5000, Math.max(250, Math.floor(headersTimeoutMs / 4))),
  };
}

/** This process's soft limit on open files (RLIMIT_NOFILE), from /proc; 1024 when it cannot be read. */
export function openFilesLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : 1024;
  } catch {
    return 1024;
  }
}

/**
 * The router's default budget: 40% of the open-files limit (each proxied
 * request holds a second descriptor to its backend, and containers, logs and
 * the API need the rest), at least 256.
 */
export function defaultRouterConnections(): number {
  return Math.max(256, Math.floor(openFilesLimit() * 0.4));
}

/** Caps `server` at `max` connections; returns how many it has shed so far. */
export function limitConnections(server: Server, options: { max: number; name: string; log?: WarnLog }): () => number {
  server.maxConnections = options.max;
  let shed = 0;
  let unreported = 0;
  let timer: NodeJS.Timeout | undefined;
  const report = () => {
    options.log?.warn(
      { listener: options.name, shed: unreported, total: shed, max: options.max },
      `${options.name}: ${unreported} connection(s) over the limit of ${options.max} closed at once`,
    );
    unreported = 0;
  };
  // The first drop of a burst is reported at once, the rest of it every 10 s.
  const later = () => {
    timer = undefined;
    if (unreported > 0) report();
  };
  server.on('drop', () => {
    shed++;
    unreported++;
    if (timer !== undefined) return;
    report();
    timer = setTimeout(later, REPORT_EVERY_MS).unref();
  });
  server.once('close', () => {
    clearTimeout(timer);
    later();
  });
  return () => shed;
}
