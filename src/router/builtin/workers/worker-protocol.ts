// The messages between the server process and its router worker processes,
// over the Node IPC channel (JSON). Route changes carry a generation number:
// `settled()` waits until every worker acknowledged the latest one.

import type { AppRoute, TlsCertificate } from '../../types.ts';
import type { AccessEntry } from '../proxy-context.ts';

export interface WorkerSettings {
  readonly domain: string;
  readonly upstreamTimeoutMs: number | undefined;
  readonly connectTimeoutMs: number | undefined;
  readonly maxSocketsPerBackend: number | undefined;
  readonly idleSocketMs: number | undefined;
  readonly maxConnections: number | undefined;
  readonly headersTimeoutMs: number | undefined;
  /** The router's public port, for X-Forwarded-Port. */
  readonly port: number;
  /** The server process's HTTPS port, for redirects to HTTPS (undefined: none). */
  readonly tlsPort: number | undefined;
  /** Whether to relay access entries at all (the server has an access hook). */
  readonly access: boolean;
  /** Whether debug lines are wanted (warnings and errors always are). */
  readonly debug: boolean;
}

/** Server process → worker. `init` comes with the listening socket as its handle. */
export type ToWorker =
  | {
      readonly t: 'init';
      readonly gen: number;
      readonly settings: WorkerSettings;
      readonly routes: readonly (readonly [string, AppRoute])[];
    }
  | { readonly t: 'set'; readonly gen: number; readonly app: string; readonly route: AppRoute }
  | { readonly t: 'remove'; readonly gen: number; readonly app: string }
  /** The HTTPS listening socket (as its handle) and the certificates; follows `init` when the router has HTTPS. */
  | { readonly t: 'tls'; readonly gen: number; readonly certificates: readonly TlsCertificate[] }
  /** The whole certificate set, replaced. */
  | { readonly t: 'certs'; readonly gen: number; readonly certificates: readonly TlsCertificate[] }
  /** An ACME http-01 answer (null: no longer). A worker started later does not get earlier ones: ACME retries. */
  | { readonly t: 'challenge'; readonly gen: number; readonly token: string; readonly keyAuthorization: string | null }
  /** An ACME tls-alpn-01 certificate (null: no longer); as for `challenge`, a later worker does not get it. */
  | {
      readonly t: 'alpn';
      readonly gen: number;
      readonly hostname: string;
      readonly certificate: Pick<TlsCertificate, 'cert' | 'key'> | null;
    }
  | { readonly t: 'drain'; readonly id: number; readonly backendIds: readonly string[]; readonly timeoutMs: number }
  | { readonly t: 'close' };

export type LogLevel = 'debug' | 'warn' | 'error';

/** Worker → server process. */
export type FromWorker =
  /** Code loaded: ready for the table and the socket. */
  | { readonly t: 'loaded' }
  /** Routes up to `gen` are what new requests see. */
  | { readonly t: 'ack'; readonly gen: number }
  /** Accepting connections, with the table of `gen`. */
  | { readonly t: 'listening'; readonly gen: number }
  | { readonly t: 'drained'; readonly id: number }
  | { readonly t: 'access'; readonly entries: readonly AccessEntry[] }
  | { readonly t: 'log'; readonly level: LogLevel; readonly fields: Record<string, unknown>; readonly msg: string };

/** Access entries are sent in batches: after this long, or once this many are waiting. */
export const ACCESS_FLUSH_MS = 50;
export const ACCESS_BATCH = 256;
