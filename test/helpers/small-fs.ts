// A small file system of the test's own, mounted on a temp directory (root
// only): an ext4 image on a loop device (disk-backed, as a real home), or a
// tmpfs. Tests fill it to a chosen free space with an allocated filler file,
// and unmount it (detaching every loop device backed by a file inside) when done.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HELPER_ENV, runChecked } from '../../src/exec/index.ts';
import { loopDevicesUnder } from '../../src/runtime/sandbox/layer-images.ts';

export interface SmallFs {
  /** The mount point. */
  readonly dir: string;
  /** Bytes an unprivileged writer may still use, as `df` shows them. */
  free(): number;
  /** Grows or shrinks the filler file until about `bytes` are free. */
  leaveFree(bytes: number): Promise<void>;
  unmount(): Promise<void>;
}

/** Why the small file system tests cannot run here, or false. */
export function smallFsUnavailable(): string | false {
  if (process.platform !== 'linux') return `platform is ${process.platform}, not Linux`;
  if (process.getuid?.() !== 0) return 'mounting a small file system needs root';
  if (!fs.existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control)';
  const tools = ['mkfs.ext4', 'losetup', 'fallocate', 'mount', 'umount'];
  const paths = (HELPER_ENV.PATH ?? '').split(':');
  const missing = tools.filter((tool) => !paths.some((dir) => fs.existsSync(path.join(dir, tool))));
  return missing.length > 0 ? `missing ${missing.join(', ')} (apt-get install e2fsprogs util-linux)` : false;
}

export async function mountSmallFs(bytes: number, kind: 'ext4' | 'tmpfs' = 'ext4'): Promise<SmallFs> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-smallfs-'));
  const dir = path.join(root, 'mnt');
  const image = path.join(root, 'fs.img');
  fs.mkdirSync(dir);
  if (kind === 'ext4') {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, bytes);
    await runChecked(['mkfs.ext4', '-q', '-F', '-m', '0', '-E', 'nodiscard', image], { env: HELPER_ENV });
    await runChecked(['mount', '-o', 'loop', image, dir], { env: HELPER_ENV });
  } else {
    await runChecked(['mount', '-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { env: HELPER_ENV });
  }
  const filler = path.join(dir, '.filler');
  const free = () => {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  };
  return {
    dir,
    free,
    async leaveFree(wanted) {
      const current = fs.existsSync(filler) ? fs.statSync(filler).size : 0;
      const target = Math.max(0, current + free() - wanted);
      if (target < current) fs.truncateSync(filler, target);
      else if (target > current) await runChecked(['fallocate', '-l', String(target), filler], { env: HELPER_ENV });
    },
    async unmount() {
      for (const device of loopDevicesUnder(dir)) {
        await runChecked(['losetup', '--detach', device], { env: HELPER_ENV }).catch(() => {});
      }
      await runChecked(['umount', dir], { env: HELPER_ENV }).catch(() =>
        runChecked(['umount', '-l', dir], { env: HELPER_ENV }),
      );
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
