// Domain records shared by the store, the pipeline and the API.

import type { ContainerSize } from './container-size.ts';
import type { DeploymentStatus, Step } from './lifecycle.ts';
import type { ManifestScripts } from './parse-manifest.ts';
import type { Volume } from './volumes.ts';

export type ConfigVars = Readonly<Record<string, string>>;

export interface App {
  readonly name: string;
  readonly createdAt: string;
  /** Version number of the current release, or null before the first success. */
  readonly currentRelease: number | null;
  /** Per-app postdeploy hook timeout; null means the server default. */
  readonly hookTimeoutMs: number | null;
  /** Per-app boot timeout (web containers accepting on $PORT); null means the server default. */
  readonly bootTimeoutMs: number | null;
  /** The uid and gid the sandbox runs this app's containers as (unique per app). */
  readonly uid: number;
  /** Size of the app's process containers. */
  readonly containerSize: ContainerSize;
  /** Size of its postdeploy hook container; null means the default (M). */
  readonly hookSize: ContainerSize | null;
  /** The buildpacks its builds run, in order (`slipway buildpacks:set`); empty: the build picks them. */
  readonly buildpacks: readonly string[];
  /** Whether a failed postdeploy hook restores the databases' backups taken before it (docs/addons.md). */
  readonly restoreOnHookFailure: boolean;
  /** ACME certificates for its hostnames (`slipway certs:auto`); null: the server's default. */
  readonly certsAuto: boolean | null;
  /** Plain HTTP requests are redirected to HTTPS (`apps:update --force-https`). */
  readonly forceHttps: boolean;
  /** HTTPS responses carry Strict-Transport-Security (`apps:update --hsts`). */
  readonly hsts: boolean;
  /** Persistent directories mounted in every container of the app (docs/volumes.md). */
  readonly volumes: readonly Volume[];
}

export interface AppSettingsPatch {
  readonly hookTimeoutMs?: number | null;
  readonly bootTimeoutMs?: number | null;
  readonly containerSize?: ContainerSize;
  readonly hookSize?: ContainerSize | null;
  /** An empty list clears them. */
  readonly buildpacks?: readonly string[];
  readonly restoreOnHookFailure?: boolean;
  readonly certsAuto?: boolean | null;
  readonly forceHttps?: boolean;
  readonly hsts?: boolean;
  readonly volumes?: readonly Volume[];
}

/**
 * An app's config as it runs, and what is stored but not live (DESIGN §1:
 * config belongs to releases). `vars` is the current release's config; with
 * no release live yet, the stored config its first deployment will use.
 * `unapplied` is what the next deployment applies on top of `vars`: a change
 * a deployment is rolling out (`pending`) or whose deployment did not go
 * live (`failed`).
 */
export interface ConfigState {
  readonly vars: ConfigVars;
  /** The release whose config `vars` is; null when none is live. */
  readonly liveRelease: number | null;
  readonly status: 'live' | 'pending' | 'failed' | 'not-deployed';
  /** Key → the value the next deployment gives it, null when it removes it. */
  readonly unapplied: Readonly<Record<string, string | null>>;
  /** The deployment rolling the change out, or the one that failed to. */
  readonly deployment: Deployment | null;
}

export interface Release {
  readonly app: string;
  readonly version: number;
  /** Directory name of the immutable slug under `slugs/<app>/`. */
  readonly slugId: string;
  readonly config: ConfigVars;
  /** Process types from the Procfile (plus the `web` default), never `postdeploy`. */
  readonly processes: Readonly<Record<string, string>>;
  readonly procfilePostdeploy: string | null;
  /** The Procfile's `release:` command: run once before the release's containers boot. */
  readonly releaseCommand: string | null;
  readonly manifest: ManifestScripts | null;
  readonly commitSha: string | null;
  readonly description: string;
  readonly createdAt: string;
  readonly deploymentId: string | null;
  /** Name of the API token that caused it. */
  readonly author: string | null;
  /** When it first became current; null while it never went live (still deploying, or failed). */
  readonly liveAt: string | null;
}

/**
 * `build`: new code; `config`: env change on the current slug (no hook);
 * `rollback`: an earlier release's slug with the current config;
 * `redeploy`: the latest built slug again, without rebuilding (retry a hook).
 */
export type DeploymentKind = 'build' | 'config' | 'rollback' | 'redeploy';

export interface StepRecord {
  readonly name: Step;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface HookRecord {
  readonly command: string;
  readonly source: string;
  readonly exitCode: number | null;
}

export interface Deployment {
  readonly id: string;
  readonly app: string;
  readonly kind: DeploymentKind;
  readonly status: DeploymentStatus;
  readonly step: Step | null;
  /** Where the code came from: `upload`, `config`, later `git`, `url`, `github`. */
  readonly source: string;
  readonly gitRef: string | null;
  readonly commitSha: string | null;
  readonly releaseVersion: number | null;
  /** False when the deployment skips the postdeploy hook (`rollback --no-hook`, config changes). */
  readonly runHook: boolean;
  readonly author: string | null;
  readonly hook: HookRecord | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly steps: readonly StepRecord[];
}

export type ContainerState = 'starting' | 'up' | 'stopping' | 'stopped' | 'crashed';

export interface ContainerRecord {
  readonly id: string;
  readonly app: string;
  /** `web-1`, `worker-2` */
  readonly name: string;
  readonly type: string;
  readonly releaseVersion: number;
  readonly state: ContainerState;
  readonly port: number | null;
  readonly pid: number | null;
  readonly startedAt: string;
  readonly restarts: number;
}

export const releaseName = (version: number): string => `v${version}`;

/** The uids a Slipway home gives its apps (runtime/uid-range.ts), both ends included. */
export interface UidRange {
  readonly first: number;
  readonly last: number;
}
