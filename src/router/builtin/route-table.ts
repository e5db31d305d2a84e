// The hostname → app lookup. A table is built whole from every app's route and
// never mutated afterwards (only the round-robin cursor moves), so the server
// swaps a single reference and each request sees one consistent table.

import { performance } from 'node:perf_hooks';
import type { AppRoute } from '../types.ts';
import type { BackendState } from './upstream/backend-pool.ts';

export interface RouteEntry {
  readonly app: string;
  readonly backends: readonly BackendState[];
  /** Plain HTTP requests are redirected to HTTPS. */
  readonly forceHttps: boolean;
  /** HTTPS responses carry Strict-Transport-Security. */
  readonly hsts: boolean;
  /** Round-robin cursor; the only mutable field, and harmless to share. */
  cursor: number;
}

export type RouteTable = ReadonlyMap<string, RouteEntry>;

export interface HostConflict {
  readonly hostname: string;
  readonly app: string;
  readonly previousApp: string;
}

/**
 * Reduces a Host header to its lookup key: port stripped (IPv6 literals keep
 * their brackets), one trailing dot dropped, lower-cased. Empty when absent.
 */
export function hostKey(host: string | undefined): string {
  if (host === undefined || host.length === 0) return '';
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 46 /* . */) end--;
  return (end === host.length ? host : host.slice(0, end)).toLowerCase();
}

/**
 * Builds a fresh table. `routes` iterates oldest-installed first, so when two
 * apps claim one hostname the most recently installed app wins; the conflicts
 * are returned for the caller to log.
 */
export function buildRouteTable(
  routes: ReadonlyMap<string, AppRoute>,
  resolveBackends: (app: string, route: AppRoute) => readonly BackendState[],
  previous: RouteTable,
): { table: RouteTable; conflicts: HostConflict[] } {
  const table = new Map<string, RouteEntry>();
  const conflicts: HostConflict[] = [];
  for (const [app, route] of routes) {
    const entry: RouteEntry = {
      app,
      backends: resolveBackends(app, route),
      forceHttps: route.forceHttps === true,
      hsts: route.hsts === true,
      cursor: 0,
    };
    for (const name of route.hostnames) {
      const key = hostKey(name);
      if (key.length === 0) continue;
      // Carrying the cursor over keeps load even when routes are swapped often.
      const old = previous.get(key);
      if (old !== undefined && old.app === app) entry.cursor = old.cursor;
      const taken = table.get(key);
      if (taken !== undefined && taken.app !== app) conflicts.push({ hostname: key, app, previousApp: taken.app });
      table.set(key, entry);
    }
  }
  return { table, conflicts };
}

/**
 * Next backend in round-robin order, or undefined when the app has none. Backends that
 * recently refused or could not be reached are passed over while another is not (as
 * nginx's `max_fails=1 fail_timeout=10s`), so one lost node costs one request a wait.
 */
export function pickBackend(entry: RouteEntry): BackendState | undefined {
  const backends = entry.backends;
  const count = backends.length;
  if (count === 0) return undefined;
  if (count === 1) return backends[0];
  const index = entry.cursor % count;
  entry.cursor = index + 1;
  const picked = backends[index] as BackendState;
  if (picked.unreachableUntil === 0) return picked;
  const now = performance.now();
  if (picked.unreachableUntil <= now) {
    picked.unreachableUntil = 0;
    return picked;
  }
  for (let i = 1; i < count; i++) {
    const other = backends[(index + i) % count] as BackendState;
    if (other.unreachableUntil <= now) return other;
  }
  return picked;
}

/** A backend other than `failed` for a one-time retry, in round-robin order. */
export function pickOtherBackend(entry: RouteEntry, failed: BackendState): BackendState | undefined {
  const backends = entry.backends;
  for (let i = 0; i < backends.length; i++) {
    const candidate = pickBackend(entry);
    if (candidate !== undefined && candidate.id !== failed.id && !candidate.retired) return candidate;
  }
  return undefined;
}
