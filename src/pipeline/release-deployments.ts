// Deployments of a slug that already exists (DESIGN §1 "Other events"): a
// config change, a rollback and a redeploy each write a new release from an
// existing slug with the app's current config, then queue a deployment that
// boots it (with the hook for rollback and redeploy) and switches.

import { configChanges } from '../core/config-changes.ts';
import { SlipwayError } from '../core/errors.ts';
import { type ConfigVars, type Deployment, type DeploymentKind, type Release, releaseName } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import { releaseOf } from './current-release.ts';
import type { PipelineDeps } from './deps.ts';

export interface ReleaseDeploymentRequest {
  readonly kind: Exclude<DeploymentKind, 'build'>;
  /** The release whose slug and process types are reused. */
  readonly base: Release;
  readonly description: string;
  readonly runHook: boolean;
  readonly author: string | null;
  /** The config to deploy, which becomes the app's config too; default: the app's config. */
  readonly config?: ConfigVars;
}

/**
 * Writes the release and queues its deployment, through `store` (a
 * transaction, so that both are written or neither); the caller then
 * announces it (announceQueued) and kicks the queue.
 */
export async function queueReleaseDeployment(
  deps: PipelineDeps,
  request: ReleaseDeploymentRequest,
  store: Store = deps.store,
): Promise<{ release: Release; deployment: Deployment }> {
  const { base } = request;
  const stored = await store.config.get(base.app);
  const config = request.config ?? stored;
  if (request.config) await store.config.update(base.app, configChanges(stored, request.config));
  const release = await store.releases.create({
    ...base,
    config,
    description: request.description,
    deploymentId: null,
    author: request.author,
  });
  const deployment: Deployment = await store.deployments.create({
    app: base.app,
    kind: request.kind,
    source: request.kind,
    releaseVersion: release.version,
    commitSha: base.commitSha,
    runHook: request.runHook,
    author: request.author,
  });
  return { release, deployment };
}

/** The queued deployment's first log line. */
export function announceQueued(
  deps: PipelineDeps,
  { release, deployment }: { release: Release; deployment: Deployment },
) {
  deps.logs.append(deployment.id, `=====> ${release.description}: ${releaseName(release.version)} queued`);
}

/** `rollback vK`: release K must exist. */
export function rollbackTarget(deps: PipelineDeps, app: string, version: number): Promise<Release> {
  return releaseOf(deps.store, app, version);
}

/**
 * `redeploy`: the release of the app's latest deployment of code (build,
 * rollback or redeploy, whatever its outcome), so that a hook that failed
 * for want of a config var can be retried once the var is set.
 */
export async function redeployTarget(deps: PipelineDeps, app: string): Promise<Release> {
  await deps.store.apps.require(app);
  const latest = (await deps.store.deployments.list(app, 1000)).find(
    (d) => d.kind !== 'config' && d.releaseVersion !== null,
  );
  const release = latest?.releaseVersion ? await deps.store.releases.get(app, latest.releaseVersion) : undefined;
  if (!release) throw new SlipwayError('app.no_release', `${app} has no release to redeploy: deploy it first`);
  return release;
}
