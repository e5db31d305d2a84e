// Volumes with the process runtime (docs/volumes.md): each is a plain host
// directory, `<volumes>/<id>/`, with no bound on its size, and a container
// sees it through a symbolic link at its path in the container's view (put
// in the view's writable layer before the container starts). Only paths under
// /app can be given this way: the process runtime has no view of its own
// outside the app.

import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { APP_ROOT } from '../../core/volumes.ts';
import type { ContainerVolume } from '../types.ts';

const VOLUME_ID = /^v-[0-9a-f]{8,32}$/;

function volumeDir(volumesDir: string, id: string): string {
  if (!VOLUME_ID.test(id)) throw new Error(`invalid volume id ${JSON.stringify(id)}`);
  return path.join(volumesDir, id);
}

/**
 * Links each volume into the view whose writable root is `writableRoot`, making its directory when
 * new; one `removed` in this run is refused (a spec read before the removal must not make it again).
 */
export function linkVolumes(
  volumesDir: string,
  writableRoot: string,
  volumes: readonly ContainerVolume[],
  removed: ReadonlySet<string>,
): void {
  for (const volume of volumes) {
    if (removed.has(volume.id)) throw new Error(`the volume at ${volume.path} was removed`);
    const relative = path.posix.relative(APP_ROOT, volume.path);
    if (relative === '' || relative.startsWith('..'))
      throw new Error(`the process runtime mounts volumes under ${APP_ROOT} only, not at ${volume.path}`);
    const dir = volumeDir(volumesDir, volume.id);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const link = path.join(writableRoot, relative);
    mkdirSync(path.dirname(link), { recursive: true });
    rmSync(link, { recursive: true, force: true }); // what the slug has there (a copied view)
    symlinkSync(dir, link);
  }
}

export async function removeVolumeDir(volumesDir: string, id: string): Promise<void> {
  await rm(volumeDir(volumesDir, id), { recursive: true, force: true });
}
