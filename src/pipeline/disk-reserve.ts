// The server's own room on the file system of its home (settings.diskReserve).
// Work that writes a user's data (a deployment, a push, an upload, a config
// change) is refused while the free space is under the reserve, *before*
// anything is written, with `disk.reserve_reached` (HTTP 507, CLI exit 9), so
// that the space left goes to what must not fail: the store, deployment logs,
// ending the deployments that run. A write that fails for want of space
// anyway (ENOSPC, SQLITE_FULL) is reported as `disk.full` (core/errors.ts
// isOutOfSpace, diskFull), never as an internal error.

import fs from 'node:fs';
import type { DiskReserve } from '../config/settings.ts';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';

export interface DiskUsage {
  /** Bytes an unprivileged writer may still use (what `df` shows as available). */
  readonly free: number;
  readonly size: number;
  /** The reserve in bytes. */
  readonly reserve: number;
}

export interface DiskSpace {
  usage(): DiskUsage;
  /**
   * Throws `disk.reserve_reached` when the free space, less `need` bytes about
   * to be written, is under the reserve. `what` names the refused work.
   */
  check(what: string, need?: number): void;
  /**
   * Throws `disk.full` ("disk full: ...") when writing `need` bytes would eat
   * into the reserve: for work under way (unpacking a deployment's source).
   */
  checkRoom(what: string, need: number): void;
}

type Statfs = (dir: string) => { bsize: number; blocks: number; bavail: number };

/** `dir`'s file system against `reserve`. One statfs per call: microseconds, always current. */
export function diskSpace(dir: string, reserve: DiskReserve, statfs: Statfs = fs.statfsSync): DiskSpace {
  const usage = (): DiskUsage => {
    const stats = statfs(dir);
    const size = stats.blocks * stats.bsize;
    const bytes = 'bytes' in reserve ? reserve.bytes : Math.ceil((size * reserve.percent) / 100);
    return { free: stats.bavail * stats.bsize, size, reserve: bytes };
  };
  return {
    usage,
    check(what, need = 0) {
      const { free, reserve: bytes } = usage();
      if (free - need >= bytes) return;
      throw new SlipwayError(
        'disk.reserve_reached',
        `${what} refused: the server's disk is nearly full (${spaceFacts(free, need, bytes)}); ` +
          'try again once an administrator has made room',
        { free, reserve: bytes },
      );
    },
    checkRoom(what, need) {
      const { free, reserve: bytes } = usage();
      if (free - need >= bytes) return;
      throw new SlipwayError(
        'disk.full',
        `disk full: ${what} does not fit on the server's disk (${spaceFacts(free, need, bytes)}); ` +
          'try again once an administrator has made room',
        { free, reserve: bytes, need },
      );
    },
  };
}

/** "12.0 MiB free, 30.0 MiB needed, 1.0 GiB kept for the server" */
function spaceFacts(free: number, need: number, reserve: number): string {
  const facts = [`${formatBytes(free)} free`];
  if (need > 0) facts.push(`${formatBytes(need)} needed`);
  if (reserve > 0) facts.push(`${formatBytes(reserve)} kept for the server`);
  return facts.join(', ');
}
