// The pipeline's volume operations (docs/volumes.md): add or remove a
// persistent directory mounted in every container of an app. Either change
// rolls out like a config change: a new release from the live one (same slug,
// same config) whose deployment restarts the app with zero downtime and runs
// no postdeploy hook, since the containers' mounts are fixed when they start.
// A removed volume's data is deleted at once; containers still running with it
// keep their mount until they are replaced.

import { randomBytes } from 'node:crypto';
import { SlipwayError } from '../core/errors.ts';
import type { Deployment } from '../core/types.ts';
import { DEFAULT_VOLUME_BYTES, MAX_VOLUMES_PER_APP, overlaps, parseVolumePath, type Volume } from '../core/volumes.ts';
import { liveRelease } from './current-release.ts';
import type { Pipeline } from './pipeline.ts';
import type { PipelineState } from './pipeline-state.ts';
import { announceQueued, queueReleaseDeployment } from './release-deployments.ts';

type VolumeOperations = Pick<Pipeline, 'volumes' | 'addVolume' | 'removeVolume'>;

export function volumeOperations(state: PipelineState): VolumeOperations {
  const { deps, queue, locks } = state;
  const { store } = deps;
  /** One volume change of an app at a time (each reads the list, then writes it). */
  const serialize = <T>(app: string, fn: () => Promise<T>) => locks.with(`${app}\0volumes`, fn);

  const rollOut = async (app: string, description: string, author: string | null): Promise<Deployment | null> => {
    const base = await liveRelease(store, app);
    if (base === null) return null;
    const queued = await queueReleaseDeployment(deps, { kind: 'config', base, description, runHook: false, author });
    announceQueued(deps, queued);
    queue.kick(app);
    return queued.deployment;
  };

  return {
    async volumes(app) {
      return (await store.apps.require(app)).volumes;
    },

    addVolume: (app, requestedPath, sizeBytes = DEFAULT_VOLUME_BYTES, author = null) =>
      serialize(app, async () => {
        const path = parseVolumePath(requestedPath);
        const { volumes } = await store.apps.require(app);
        const clash = volumes.find((v) => overlaps(v.path, path));
        if (clash !== undefined)
          throw new SlipwayError(
            'volume.already_exists',
            clash.path === path
              ? `${app} already has a volume at ${path}`
              : `${path} overlaps ${app}'s volume at ${clash.path}: volumes cannot be nested`,
          );
        if (volumes.length >= MAX_VOLUMES_PER_APP)
          throw new SlipwayError(
            'volume.limit_reached',
            `${app} has ${volumes.length} volumes, the most an app may have`,
          );
        deps.disk.check('the volume');
        const volume: Volume = {
          id: `v-${randomBytes(8).toString('hex')}`,
          path,
          sizeBytes,
          createdAt: new Date().toISOString(),
        };
        await store.apps.update(app, { volumes: [...volumes, volume] });
        return { volume, deployment: await rollOut(app, `Add volume ${path}`, author) };
      }),

    removeVolume: (app, requestedPath, author = null) =>
      serialize(app, async () => {
        const { volumes } = await store.apps.require(app);
        const volume = volumes.find((v) => v.path === requestedPath.replace(/(.)\/$/, '$1'));
        if (volume === undefined)
          throw new SlipwayError('volume.not_found', `${app} has no volume at ${JSON.stringify(requestedPath)}`);
        await store.apps.update(app, { volumes: volumes.filter((v) => v !== volume) });
        const deployment = await rollOut(app, `Remove volume ${volume.path}`, author);
        await deps.runtime.removeVolume(volume.id);
        return { volume, deployment };
      }),
  };
}
