// The sandbox's volumes (docs/volumes.md): each volume is an ext4 image of its
// size, `<dir>/<id>.img` (made like a build cache image, layer-images.ts), and
// it is mounted ONCE, on the host, at `<dir>/<id>/` (the directory is root's,
// 0700, under the home): every container of the app binds that one mount into
// its own namespace. One mount, one file system instance: two loop mounts of
// one image would be two ext4 instances writing the same blocks. Writing past
// the size fails with ENOSPC in the container; the host's disk is untouched.
// A server killed with its volumes mounted finds them mounted at its next
// start and keeps using them; `close` unmounts every one under `dir`. Where
// the host cannot make images, a volume is a plain directory, unbounded.

import { chownSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import { readMounts } from '../mountinfo.ts';
import { isMountPoint, unmount } from '../overlay-mount.ts';
import type { ContainerVolume } from '../types.ts';
import type { LayerImages, LayerOwner } from './layer-images.ts';

export interface VolumeMounts {
  /** The host directory holding the volume's files, ready to bind (made, formatted and mounted on first use). */
  ensure(volume: ContainerVolume, owner: LayerOwner): Promise<string>;
  /** Unmounts the volume and deletes its image. Idempotent. */
  remove(id: string): Promise<void>;
  /** Unmounts every volume under the directory (server shutdown: no container runs any more). */
  close(): Promise<void>;
}

const VOLUME_ID = /^v-[0-9a-f]{8,32}$/;
const MOUNT_OPTIONS = 'loop,nosuid,nodev,noatime,errors=remount-ro';

export function createVolumeMounts(dir: string, layers: LayerImages | null): VolumeMounts {
  const root = path.resolve(dir);
  /** Volumes made or being made in this run, by id. */
  const ready = new Map<string, Promise<string>>();
  /** Removed in this run: a container started from a spec read before the removal must not make it again. */
  const removed = new Set<string>();
  const paths = (id: string) => {
    if (!VOLUME_ID.test(id)) throw new Error(`invalid volume id ${JSON.stringify(id)}`);
    return { image: path.join(root, `${id}.img`), mount: path.join(root, id) };
  };

  const make = async (volume: ContainerVolume, owner: LayerOwner): Promise<string> => {
    const { image, mount } = paths(volume.id);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(mount, { recursive: true, mode: 0o700 });
    if (layers === null) {
      // No loop devices: a plain directory, the app's own (unbounded).
      chownSync(mount, owner.uid, owner.gid);
      return mount;
    }
    if (await isMountPoint(mount)) return mount; // mounted by an earlier run of this server
    await layers.persistent(image, volume.sizeBytes, owner);
    await runChecked(['mount', '-t', 'ext4', '-o', MOUNT_OPTIONS, image, mount], HELPER);
    return mount;
  };

  return {
    ensure(volume, owner) {
      if (removed.has(volume.id)) return Promise.reject(volumeRemoved(volume));
      let made = ready.get(volume.id);
      if (made === undefined) {
        made = make(volume, owner);
        made.catch(() => ready.delete(volume.id)); // tried again by the next container
        ready.set(volume.id, made);
      }
      return made;
    },
    async remove(id) {
      const { image, mount } = paths(id);
      removed.add(id);
      await ready.get(id)?.catch(() => {});
      ready.delete(id);
      if (await isMountPoint(mount)) await unmount(mount);
      await rm(mount, { recursive: true, force: true });
      await rm(image, { force: true });
    },
    async close() {
      await Promise.allSettled(ready.values());
      ready.clear();
      const mounted = (await readMounts()).filter((m) => m.mountPoint.startsWith(`${root}${path.sep}`));
      for (const { mountPoint } of mounted) await unmount(mountPoint);
    },
  };
}

export function volumeRemoved(volume: ContainerVolume): Error {
  return new Error(`the volume at ${volume.path} was removed`);
}

const HELPER = { env: HELPER_ENV, timeoutMs: 60_000 } as const;
