// The pipeline's deployment operations: queue a build of an archive, a config
// change, a rollback or a redeploy (each a deployment in the app's queue),
// cancel one, and serialize an app's intake.

import fs from 'node:fs';
import { configChanges, describeChanges } from '../core/config-changes.ts';
import { SlipwayError } from '../core/errors.ts';
import { FINAL_STATUSES } from '../core/lifecycle.ts';
import { validateConfigKey, validateConfigValue } from '../core/names.ts';
import { type Deployment, releaseName } from '../core/types.ts';
import { liveRelease } from './current-release.ts';
import type { Pipeline } from './pipeline.ts';
import type { PipelineState } from './pipeline-state.ts';
import {
  announceQueued,
  queueReleaseDeployment,
  type ReleaseDeploymentRequest,
  redeployTarget,
  rollbackTarget,
} from './release-deployments.ts';
import { archivePath } from './run-deployment.ts';

type DeploymentOperations = Pick<
  Pipeline,
  'deployArchive' | 'updateConfig' | 'rollback' | 'redeploy' | 'cancelDeployment' | 'serializeIntake'
>;

export function deploymentOperations(state: PipelineState): DeploymentOperations {
  const { deps, queue, locks } = state;
  const { store } = deps;

  /** Writes the release and its deployment together (or neither), then announces and queues it. */
  const queueRelease = async (request: ReleaseDeploymentRequest, notes: string[] = []): Promise<Deployment> => {
    const queued = await store.transaction((tx) => queueReleaseDeployment(deps, request, tx));
    announceQueued(deps, queued);
    for (const note of notes) deps.logs.append(queued.deployment.id, `       ${note}`);
    queue.kick(request.base.app);
    return queued.deployment;
  };

  return {
    async deployArchive(app, archive, meta) {
      await store.apps.require(app);
      deps.disk.check('the deployment');
      const deployment = await store.deployments.create({ app, kind: 'build', ...meta });
      // One metadata write: microseconds, where a trip to the thread pool can cost milliseconds on a busy host.
      fs.renameSync(archive, archivePath(deps, deployment.id));
      deps.logs.append(deployment.id, `=====> Deployment ${deployment.id} of ${app} queued`);
      queue.kick(app);
      return deployment;
    },

    async updateConfig(app, changes, author = null) {
      const base = await liveRelease(store, app); // throws app.not_found first
      const keys = Object.keys(changes);
      if (keys.length === 0) throw new SlipwayError('request.invalid', 'no config vars given');
      for (const [key, value] of Object.entries(changes)) {
        validateConfigKey(key);
        if (value !== null) validateConfigValue(key, value);
      }
      deps.disk.check('the config change');
      // The config, its release and its deployment are written together, or not at all.
      const { config, queued } = await store.transaction(async (tx) => ({
        config: await tx.config.update(app, changes),
        queued: base
          ? await queueReleaseDeployment(
              deps,
              { kind: 'config', base, description: describeConfigChange(changes), runHook: false, author },
              tx,
            )
          : null,
      }));
      if (queued) {
        announceQueued(deps, queued);
        queue.kick(app);
      }
      return { config, deployment: queued?.deployment ?? null };
    },

    async rollback(app, version, { runHook, keepConfig = false, force = false }, author) {
      const base = await rollbackTarget(deps, app, version);
      const name = releaseName(version);
      if (base.liveAt === null && !force) {
        throw new SlipwayError(
          'release.never_live',
          `${name} never went live (its deployment failed or did not finish): roll back to it anyway with --force`,
          { app, version },
        );
      }
      deps.disk.check('the rollback');
      const stored = await store.config.get(app);
      const changes = describeChanges(stored, configChanges(stored, base.config));
      const restores = keepConfig
        ? `${name}'s code, with the current config (--keep-config)`
        : `${name}'s code and config${changes ? ` (config vars changing: ${changes})` : ' (the same config as now)'}`;
      return queueRelease(
        {
          kind: 'rollback',
          base,
          description: `Rollback to ${name}`,
          runHook,
          author,
          config: keepConfig ? undefined : base.config,
        },
        [
          `Restores ${restores}.`,
          `Database migrations are not reversed: ${name}'s code runs against the database as later releases left it.`,
        ],
      );
    },

    async redeploy(app, author) {
      const base = await redeployTarget(deps, app);
      deps.disk.check('the redeploy');
      return queueRelease({
        kind: 'redeploy',
        base,
        description: `Redeploy ${releaseName(base.version)}`,
        runHook: true,
        author,
      });
    },

    async cancelDeployment(app, id, author) {
      const deployment = await store.deployments.get(id);
      if (!deployment || deployment.app !== app) {
        throw new SlipwayError('deployment.not_found', `deployment "${id}" not found`, { deployment: id });
      }
      if (FINAL_STATUSES.has(deployment.status)) {
        throw new SlipwayError(
          'deployment.not_cancellable',
          `deployment ${id} already ended (${deployment.status}): nothing to cancel`,
        );
      }
      await queue.cancel(app, id, `cancelled${author ? ` by ${author}` : ''}`);
      return (await store.deployments.get(id)) ?? deployment;
    },

    // A scope of the app's own in the one lock table: intake never waits for, nor holds up, a switch.
    serializeIntake: (app, fn) => locks.with(`${app}\0intake`, fn),
  };
}

function describeConfigChange(changes: Record<string, string | null>): string {
  const set = Object.keys(changes).filter((k) => changes[k] !== null);
  const unset = Object.keys(changes).filter((k) => changes[k] === null);
  const parts = [];
  if (set.length) parts.push(`Set ${set.join(', ')}`);
  if (unset.length) parts.push(`Unset ${unset.join(', ')}`);
  return `${parts.join('; ')} config vars`;
}
