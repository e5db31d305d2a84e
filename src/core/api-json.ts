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
  /** Container size of the app's processes (S, M, L, XL, 2XL). */
  size: string;
  /** Container size of its postdeploy hook. */
  hook_size: string;
  web_url: string;
  last_deployment: { id: string; status: string; created_at: string } | null;
  formation?: Record<string, number>;
  containers?: ContainerJson[];
}

export interface ContainerJson {
  name: string;
  type: string;
  state: string;
  release: string;
  started_at: string;
  restarts: number;
}

export interface ReleaseJson {
  version: string;
  current: boolean;
  commit_sha: string | null;
  description: string;
  created_at: string;
  process_types: string[];
}
