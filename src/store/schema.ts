// Table types for kysely: the shape of every row as stored (snake_case, JSON
// as text, timestamps as ISO-8601 UTC text). Repositories map these rows to
// the camelCase domain records of core/types.ts; nothing else sees them.

import type { Generated } from 'kysely';

export interface AppsTable {
  name: string;
  created_at: string;
  current_release: number | null;
  hook_timeout_ms: number | null;
  /** Migration 005; null: the server's boot timeout. */
  boot_timeout_ms: number | null;
  /** The uid (and gid) the sandbox runs this app's containers as. */
  uid: number;
  container_size: string;
  hook_size: string | null;
  /** Migration 006: a JSON array of buildpacks (`slipway buildpacks:set`); null: none set. */
  buildpacks: string | null;
  /** Migration 009: a JSON array of the app's volumes (docs/volumes.md); null: none. */
  volumes: string | null;
  /** Migration 007: 1 restores the pre-hook backups when the hook fails. */
  restore_on_hook_failure: Generated<number>;
  /** Migration 008: 1/0 (`slipway certs:auto on|off`); null: the server's default. */
  certs_auto: number | null;
  /** Migration 008: 1 redirects plain HTTP to HTTPS. */
  force_https: Generated<number>;
  /** Migration 008: 1 adds Strict-Transport-Security to HTTPS answers. */
  hsts: Generated<number>;
}

export interface DomainsTable {
  hostname: string;
  app: string;
  created_at: string;
}

export interface ConfigVarsTable {
  app: string;
  key: string;
  value: string;
}

export interface ReleasesTable {
  app: string;
  version: number;
  slug_id: string;
  /** JSON object of config vars: the snapshot this release runs with. */
  config: string;
  /** JSON object: process type → command. */
  processes: string;
  procfile_postdeploy: string | null;
  /** The Procfile's `release:` command (migration 004). */
  release_command: string | null;
  /** When it first became current (migration 005); null: it never went live. */
  live_at: string | null;
  /** JSON ManifestScripts, or null when the app has no manifest. */
  manifest: string | null;
  commit_sha: string | null;
  description: string;
  created_at: string;
  deployment_id: string | null;
  author: string | null;
}

export interface DeploymentsTable {
  /** Insertion order: breaks ties between deployments created in the same millisecond. */
  seq: Generated<number>;
  id: string;
  app: string;
  kind: string;
  status: string;
  step: string | null;
  source: string;
  git_ref: string | null;
  commit_sha: string | null;
  release_version: number | null;
  hook_command: string | null;
  hook_source: string | null;
  hook_exit_code: number | null;
  error_code: string | null;
  error_message: string | null;
  created_at: string;
  finished_at: string | null;
  author: string | null;
  /** 0 when the deployment skips the postdeploy hook (`rollback --no-hook`). */
  run_hook: number;
}

export interface DeploymentStepsTable {
  seq: Generated<number>;
  deployment_id: string;
  name: string;
  started_at: string;
  finished_at: string | null;
}

export interface FormationTable {
  app: string;
  type: string;
  quantity: number;
}

export interface ContainersTable {
  id: string;
  app: string;
  name: string;
  type: string;
  release_version: number;
  state: string;
  port: number | null;
  pid: number | null;
  started_at: string;
  restarts: number;
}

export interface TokensTable {
  hash: string;
  name: string;
  created_at: string;
}

export interface GithubLinksTable {
  app: string;
  /** `owner/repo`, lower case. */
  repo: string;
  branch: string;
  auto_deploy: number;
  secret: string;
  token: string | null;
  created_at: string;
}

export interface AddonsTable {
  app: string;
  /** What it is attached as: `DATABASE` (config var `DATABASE_URL`). */
  name: string;
  provider: string;
  /** The provider's own name for it (a database and its role). */
  resource: string;
  created_at: string;
}

export interface GithubDeliveriesTable {
  seq: Generated<number>;
  id: string;
  received_at: string;
}

export interface Database {
  apps: AppsTable;
  config_vars: ConfigVarsTable;
  releases: ReleasesTable;
  deployments: DeploymentsTable;
  deployment_steps: DeploymentStepsTable;
  formation: FormationTable;
  containers: ContainersTable;
  tokens: TokensTable;
  domains: DomainsTable;
  github_links: GithubLinksTable;
  github_deliveries: GithubDeliveriesTable;
  addons: AddonsTable;
}
