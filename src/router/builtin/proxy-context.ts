// The state one running router shares between its request and upgrade
// handlers. `table` is the only field that changes after start: setRoute and
// removeRoute replace it with a new immutable table in a single assignment.

import type { Socket } from 'node:net';
import type { LogFn } from 'pino';
import type { ErrorPages } from '../error-pages.ts';
import type { CertificateSet } from './certificate-set.ts';
import type { RouteTable } from './route-table.ts';
import type { BackendPool } from './upstream/backend-pool.ts';

export interface AccessEntry {
  /** The app the Host header resolved to; null for unknown hostnames. */
  readonly app: string | null;
  readonly method: string;
  /** The request target as sent, query string included. */
  readonly path: string;
  /** 499 when the client went away before a response was sent; 101 for an accepted upgrade. */
  readonly status: number;
  readonly durationMs: number;
  readonly requestId: string;
}

export type AccessHook = (entry: AccessEntry) => void;

/** What the router logs through: a pino logger, or a router worker's relay to the server process. */
export interface RouterLog {
  readonly debug: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

export interface ProxyContext {
  table: RouteTable;
  readonly pool: BackendPool;
  readonly pages: ErrorPages;
  readonly upstreamTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** The listening port as a string, for X-Forwarded-Port; set once listening. */
  forwardedPort: string;
  /** The HTTPS listener's port as a string (X-Forwarded-Port, redirects), null without one. */
  tlsPort: string | null;
  /** What the HTTPS listener serves; replaced whole on a change. */
  certificates: CertificateSet;
  /** ACME http-01 tokens → key authorizations, answered on plain HTTP. */
  readonly challenges: Map<string, string>;
  readonly logger: RouterLog | undefined;
  readonly onAccess: AccessHook | undefined;
  /** Both ends of every open upgraded tunnel, so close() can end them. */
  readonly tunnelSockets: Set<Socket>;
}

/** Client went away before any response: nginx's convention. */
export const CLIENT_CLOSED_STATUS = 499;

export function reportAccess(ctx: ProxyContext, entry: AccessEntry): void {
  if (ctx.onAccess === undefined) return;
  try {
    ctx.onAccess(entry);
  } catch (err) {
    // A faulty log hook must not take the data plane down with it.
    ctx.logger?.error({ err }, 'router onAccess hook threw');
  }
}

export function isIdempotent(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}
