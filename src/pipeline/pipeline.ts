// The pipeline's face: everything the API, the dashboard and intake may ask
// of it, and all the writes they make (none of them writes the store
// directly). create-pipeline.ts puts it together from its parts: apps,
// deployments, processes, and start-up recovery.

import type { App, AppSettingsPatch, ConfigState, ConfigVars, Deployment, Release } from '../core/types.ts';
import type { Volume } from '../core/volumes.ts';
import type { OneOffRequest, OneOffRun } from './run-one-off.ts';

export interface DeployMeta {
  readonly source: string;
  readonly commitSha?: string | null;
  readonly gitRef?: string | null;
  readonly author?: string | null;
}

export interface VolumeChange {
  readonly volume: Volume;
  /** The release restarting the app with the change, or null when the app has no release yet. */
  readonly deployment: Deployment | null;
}

export interface RollbackOptions {
  readonly runHook: boolean;
  /** Keep the app's current config instead of the release's own. */
  readonly keepConfig?: boolean;
  /** Allow a release that never went live (its deployment failed, or never ran). */
  readonly force?: boolean;
}

export interface Pipeline {
  // Apps (app-operations.ts).
  createApp(name: string): Promise<App>;
  /** Stops everything of the app and removes it with its releases, slugs, logs and cache. */
  destroyApp(name: string): Promise<void>;
  /** Container sizes and the hook timeout, for the containers started from now on. */
  updateApp(name: string, patch: AppSettingsPatch): Promise<App>;
  /** Sets the buildpacks the app's builds run, in order (checked: `buildpack.invalid`); empty clears them. */
  setBuildpacks(name: string, buildpacks: readonly string[]): Promise<readonly string[]>;
  /** Empties the app's build cache: the next build starts without one. */
  clearBuildCache(name: string): Promise<void>;
  /** The release that serves the app, or null before its first successful deployment. */
  currentRelease(app: string): Promise<Release | null>;
  /** The config the app runs with (its live release's), and a stored change not live yet. */
  config(app: string): Promise<ConfigState>;
  domains(app: string): Promise<string[]>;
  addDomain(app: string, hostname: string): Promise<string>;
  removeDomain(app: string, hostname: string): Promise<void>;

  // Deployments (deployment-operations.ts).
  /** Queues a deployment of a checked archive; the file is moved into the builds directory. */
  deployArchive(app: string, archive: string, meta: DeployMeta): Promise<Deployment>;
  /** Sets/unsets config vars; with a current release, rolls out a new release (no hook). */
  updateConfig(
    app: string,
    changes: Record<string, string | null>,
    author?: string | null,
  ): Promise<{ config: ConfigVars; deployment: Deployment | null }>;
  /**
   * Deploys release `version`'s slug and config (the current config with `keepConfig`); the hook
   * runs unless `runHook` is false. A release that never went live needs `force`.
   */
  rollback(app: string, version: number, options: RollbackOptions, author: string | null): Promise<Deployment>;
  /** Boot, hook and switch again for the latest code release, without rebuilding, with the current config. */
  redeploy(app: string, author: string | null): Promise<Deployment>;
  /** Cancels a queued or running deployment: it ends `aborted` and the current release keeps serving. */
  cancelDeployment(app: string, id: string, author: string | null): Promise<Deployment>;
  /**
   * Runs `fn` as the only intake of the app at a time (a git push's receive, a GitHub push's
   * fetch and queueing), so that pushes are taken in order; the app's one lock table, in a
   * scope of its own, so that a slow fetch never holds up a switch of running containers.
   */
  serializeIntake<T>(app: string, fn: () => Promise<T>): Promise<T>;

  // Processes (process-operations.ts).
  /** Sets quantities per process type and applies them to the current release at once. */
  scale(app: string, quantities: Readonly<Record<string, unknown>>): Promise<Record<string, number>>;
  /** A new app's formation (its manifest's), before it has a release to check the types against. */
  setFormation(app: string, quantities: Readonly<Record<string, number>>): Promise<void>;
  /** Replaces the containers of a type (or all), one by one. Returns how many were restarted. */
  restart(app: string, type?: string): Promise<number>;
  /** `slipway run`: starts a one-off container of the current release. */
  runOneOff(app: string, request: OneOffRequest): Promise<OneOffRun>;
  /** The host each running container of the app is on, by container id, where the runtime says (swarm). */
  nodes(app: string): ReadonlyMap<string, string>;

  // Volumes (volume-operations.ts, docs/volumes.md).
  volumes(app: string): Promise<readonly Volume[]>;
  /** Adds a volume (path checked) and, when the app runs, restarts it with the volume mounted (no hook). */
  addVolume(app: string, path: string, sizeBytes?: number, author?: string | null): Promise<VolumeChange>;
  /** Removes a volume, restarts a running app without it, and deletes its data. */
  removeVolume(app: string, path: string, author?: string | null): Promise<VolumeChange>;

  // Start-up and shutdown (recover-at-start.ts).
  /** Stops what a crashed run left behind, ends interrupted deployments, boots the current releases. */
  start(mark?: (phase: string) => void): Promise<void>;
  close(): Promise<void>;
}
