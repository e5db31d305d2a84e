// What every container of a release shares, whatever its role (web, worker,
// postdeploy hook, one-off run): a fresh id, the release's slug, the app's
// own user, the limits of its size, the app's volumes, and the runtime
// environment of DESIGN §1.

import { randomBytes } from 'node:crypto';
import { type ContainerIdentity, containerEnv, containerName } from '../core/container-env.ts';
import { type ContainerSize, limitsOf } from '../core/container-size.ts';
import { type App, type Release, releaseName } from '../core/types.ts';
import type { ContainerSpec } from '../runtime/types.ts';
import type { PipelineDeps } from './deps.ts';

export function newContainerId(): string {
  return `c-${randomBytes(6).toString('hex')}`;
}

/** The version a container reports: the commit SHA when known, else `v7`. */
export function containerVersion(release: Release): string {
  return release.commitSha ?? releaseName(release.version);
}

export type BaseSpec = Omit<ContainerSpec, 'command' | 'exposePort' | 'onLine'>;

export function baseSpec(
  deps: PipelineDeps,
  app: App,
  release: Release,
  identity: ContainerIdentity,
  size: ContainerSize = app.containerSize,
  extraEnv: Readonly<Record<string, string>> = {},
): BaseSpec {
  const limits = limitsOf(size);
  return {
    id: newContainerId(),
    app: release.app,
    release: releaseName(release.version),
    name: containerName(identity),
    slugDir: deps.slugs.path(release.app, release.slugId),
    env: containerEnv({
      app: release.app,
      config: { ...release.config, ...extraEnv },
      container: identity,
      version: containerVersion(release),
      memoryMb: deps.runtime.enforcesLimits ? limits.memoryBytes / (1024 * 1024) : undefined,
    }),
    user: { uid: app.uid, gid: app.uid },
    limits,
    volumes: app.volumes.map(({ id, path, sizeBytes }) => ({ id, path, sizeBytes })),
  };
}
