// The JSON shapes of the REST API (DESIGN §3): produced by api/serialize.ts, read by the CLI.

import type { DeploymentStatus } from './lifecycle.ts';

export interface DeploymentJson {
  id: string;
  app: string;
  kind: string;
  status: DeploymentStatus;
  step: string | null;
  source: string;
  git_ref: string | null;
  commit_sha: string | null;
  release: string | null;
  /** False for `rollback --no-hook` and config changes. */
  run_hook: boolean;
  /** Name of the API token that asked for it. */
  author: string | null;
  hook: { command: string; source: string; exit_code: number | null } | null;
  error: { code: string; message: string } | null;
  created_at: string;
  finished_at: string | null;
  steps: { name: string; started_at: string; finished_at: string | null }[];
}

export interface AppJson {
  name: string;
  created_at: string;
  current_release: string | null;
  /** Per-app postdeploy hook timeout in ms; null: the server default. */
  hook_timeout_ms: number | null;
  boot_timeout_ms: number | null;
  /** Container size of the app's processes (S, M, L, XL, 2XL). */
  size: string;
  /** Container size of its postdeploy hook. */
  hook_size: string;
  restore_on_hook_failure: boolean;
  web_url: string;
  last_deployment: { id: string; status: string; created_at: string } | null;
  /** Plain HTTP is redirected to HTTPS. */
  force_https: boolean;
  /** HTTPS answers carry Strict-Transport-Security. */
  hsts: boolean;
  formation?: Record<string, number>;
  /** Custom hostnames (GET /api/apps/:app only). */
  domains?: string[];
  containers?: ContainerJson[];
}

/** GET /api/apps/:app/certs: one certificate (docs/https.md). */
export interface CertJson {
  id: string;
  source: 'own' | 'acme';
  /** ok, expiring (renewal due / under 30 days), expired, pending (ACME: not obtained yet), failing. */
  status: string;
  served_for: string[];
  names: string[] | null;
  issuer: string | null;
  not_before: string | null;
  not_after: string | null;
  fingerprint: string | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

/** GET /api/server/certificate: how the API and dashboard speak (docs/https.md). */
export interface ApiCertJson {
  /** off: plain HTTP; own: --api-tls-cert/--api-tls-key; acme: --api-domain. */
  tls: 'off' | 'own' | 'acme';
  certificate: CertJson | null;
}

export interface CertsJson {
  /** ACME certificates for every hostname of the app. */
  auto: boolean;
  certificates: CertJson[];
}

export interface ContainerJson {
  name: string;
  type: string;
  state: string;
  release: string;
  started_at: string;
  restarts: number;
  /** The host it runs on, with runtimes that place containers on several (swarm). */
  node?: string;
}

export interface ReleaseJson {
  version: string;
  current: boolean;
  /** Whether it was ever current; false while its deployment runs, and for ever when it failed. */
  went_live: boolean;
  /** When it first became current. */
  live_at: string | null;
  commit_sha: string | null;
  description: string;
  author: string | null;
  created_at: string;
  process_types: string[];
  /** From the manifest: recorded, not run. */
  buildpacks: string[];
  /** From the manifest, as recorded (those an app lacked were provisioned before its first deployment). */
  addons: string[];
}

/** One app log line: `GET /api/apps/:app/logs` (JSON, or each SSE event's data). */
export interface LogLineJson {
  time: string;
  /** `web-1`, `worker-2`, `router`, `slipway`, `one-off-3`, … */
  source: string;
  line: string;
}
/** One line of a one-off run's output (`event: output` of POST /api/apps/:app/run). */
export interface RunOutputJson {
  stream: 'stdout' | 'stderr';
  line: string;
}

/** How a one-off run ended (`event: exit`): the exit code, or null and the signal that killed it. */
export interface RunExitJson {
  code: number | null;
  signal: string | null;
}

/** The answer to a detached run (202). */
export interface RunDetachedJson {
  container: string;
  release: string;
  /** Whether that release is the app's current one; false for a release that is not (or never was) live. */
  current: boolean;
}

/**
 * Control messages (text frames) of the interactive run WebSocket
 * (GET /api/apps/:app/run/attach). Binary frames carry the bytes: stdin from
 * the client, terminal output from the server.
 */
export type RunAttachClientMessage =
  | { type: 'start'; command: string; env?: Record<string, string>; release?: string; cols: number; rows: number }
  | { type: 'resize'; cols: number; rows: number };

export type RunAttachServerMessage =
  | ({ type: 'started' } & RunDetachedJson)
  | ({ type: 'exit' } & RunExitJson)
  | { type: 'error'; error: { code: string; message: string } };

/** GET /api/apps/:app/env/state: the config that runs, and a stored change that does not (yet). */
export interface ConfigStateJson {
  /** `live`: nothing unapplied; `pending`: a deployment rolls a change out; `failed`: it did not go live; `not-deployed`: no release is live. */
  status: 'live' | 'pending' | 'failed' | 'not-deployed';
  /** The live release (`v3`), whose config `env` is; null when none is live. */
  release: string | null;
  env: Record<string, string>;
  /** What the next deployment changes: key → new value, or null when it removes the key. */
  unapplied: Record<string, string | null>;
  deployment: DeploymentJson | null;
}
