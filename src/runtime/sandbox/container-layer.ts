// A sandboxed container's writable layer, the upper half of its /app overlay:
// an ext4 image of its own (layer-images.ts), as big as its size allows, at
// `<containers>/<id>/layer.img`, mounted only in its private mount namespace,
// so that writing past it fails with ENOSPC in the container and never fills
// the host. On a host that cannot make images (no loop devices), plain
// directories `<containers>/<id>/{upper,work}`, unbounded, as before (the
// server logged why at start).

import { chownSync, mkdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerLimits } from '../../core/container-size.ts';
import { overlayOptions } from '../overlay-mount.ts';
import type { ContainerSpec } from '../types.ts';
import type { Sandbox } from './sandbox.ts';
import type { SetupMount } from './sandbox-argv.ts';

/** A container's writable layer: ready once made; its setup mounts; its removal once the container is gone. */
export interface ContainerLayer {
  readonly ready: Promise<unknown>;
  mounts(): Promise<SetupMount[]>;
  remove(): Promise<void>;
}

export interface LayerRequest {
  readonly sandbox: Sandbox;
  readonly containersDir: string;
  readonly spec: ContainerSpec;
  readonly uid: number;
  readonly gid: number;
  readonly limits: ContainerLimits;
}

/** Throws at once on a spec that cannot be mounted (overlay options); anything later rejects `ready`. */
export function prepareLayer(request: LayerRequest): ContainerLayer {
  const { sandbox, spec, uid, gid, limits } = request;
  const slugDir = path.resolve(spec.slugDir);
  if (!isDirectory(slugDir)) return failedLayer(new Error(`slug ${slugDir} is not a directory`));
  const { layers, mountPoints } = sandbox;
  if (layers === null) return directoryLayer(request, slugDir);
  const overlay = overlayOptions({
    lower: slugDir,
    upper: path.join(mountPoints.layer, 'upper'),
    work: path.join(mountPoints.layer, 'work'),
    target: mountPoints.app,
  });
  const containerDir = path.join(request.containersDir, spec.id);
  const made = makeContainerDir(request.containersDir, containerDir);
  const image = made.then(() =>
    layers.take(limits.diskBytes, { uid, gid }, { file: path.join(containerDir, 'layer.img') }),
  );
  const removeDir = () => rm(containerDir, { recursive: true, force: true });
  return {
    ready: image.catch(async (err: unknown) => {
      if (await made.then(() => true).catch(() => false)) await removeDir();
      throw err;
    }),
    mounts: async () => [
      { kind: 'ext4', source: (await image).file, target: mountPoints.layer },
      { kind: 'overlay', options: overlay, target: mountPoints.app },
    ],
    remove: async () => {
      await layers.release(await image);
      await removeDir();
    },
  };
}

/** The container's own directory, new (synchronous calls: microseconds, on the way to every start). */
async function makeContainerDir(containersDir: string, containerDir: string): Promise<void> {
  mkdirSync(containersDir, { recursive: true, mode: 0o700 });
  try {
    mkdirSync(containerDir, { mode: 0o700 });
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'EEXIST'
      ? new Error(`container directory ${containerDir} already exists`)
      : err;
  }
}

/**
 * containerDir/{upper,work}, owned by the app where the app sees it.
 * Synchronous calls: a handful of metadata writes of microseconds each, where as many trips to the
 * thread pool cost milliseconds on a busy host, on the way to every container start.
 */
function directoryLayer({ sandbox, containersDir, spec, uid, gid }: LayerRequest, slugDir: string): ContainerLayer {
  const containerDir = path.join(containersDir, spec.id);
  const upper = path.join(containerDir, 'upper');
  const work = path.join(containerDir, 'work');
  const overlay = overlayOptions({ lower: slugDir, upper, work, target: sandbox.mountPoints.app });
  const remove = () => rm(containerDir, { recursive: true, force: true });
  const made = (async () => {
    await makeContainerDir(containersDir, containerDir);
    try {
      mkdirSync(upper, { mode: 0o755 });
      mkdirSync(work, { mode: 0o700 });
      // The upper root carries /app's own owner and mode: the app may create and delete files there.
      chownSync(upper, uid, gid);
    } catch (err) {
      await remove();
      throw err;
    }
  })();
  return {
    ready: made,
    mounts: async () => [{ kind: 'overlay', options: overlay, target: sandbox.mountPoints.app }],
    remove,
  };
}

function failedLayer(err: Error): ContainerLayer {
  const ready = Promise.reject(err);
  ready.catch(() => {});
  return { ready, mounts: () => ready.then(() => []), remove: async () => {} };
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
