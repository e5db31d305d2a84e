// Container sizes, as on Scalingo: each app's processes run in one size, its
// postdeploy hook in its own (default M). A size sets the memory limit (also
// given to the app as CONTAINER_MEMORY), the process/thread limit, the
// relative CPU weight and the disk its writable layer may use. Drivers
// without cgroups and layer images (process) do not enforce them.

import { SlipwayError } from './errors.ts';

export interface ContainerLimits {
  readonly memoryBytes: number;
  /** Maximum processes and threads in the container. */
  readonly pids: number;
  /** Relative CPU weight (cgroup v1 cpu.shares; 1024 = one default share). */
  readonly cpuShares: number;
  /** Size of the container's writable layer (/app): writes past it fail with ENOSPC. */
  readonly diskBytes: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const CONTAINER_SIZES = {
  S: { memoryBytes: 256 * MiB, pids: 128, cpuShares: 256, diskBytes: 1 * GiB },
  M: { memoryBytes: 512 * MiB, pids: 256, cpuShares: 512, diskBytes: 2 * GiB },
  L: { memoryBytes: 1024 * MiB, pids: 512, cpuShares: 1024, diskBytes: 4 * GiB },
  XL: { memoryBytes: 2048 * MiB, pids: 1024, cpuShares: 2048, diskBytes: 8 * GiB },
  '2XL': { memoryBytes: 4096 * MiB, pids: 2048, cpuShares: 4096, diskBytes: 16 * GiB },
} as const satisfies Record<string, ContainerLimits>;

/**
 * What a build may write besides its source (dependencies, build output),
 * and its cache (HOME, the npm cache), kept between builds.
 */
export const BUILD_DISK_BYTES = 4 * GiB;
export const BUILD_CACHE_BYTES = 2 * GiB;

export type ContainerSize = keyof typeof CONTAINER_SIZES;

export const DEFAULT_CONTAINER_SIZE: ContainerSize = 'M';

export function isContainerSize(value: string): value is ContainerSize {
  return Object.hasOwn(CONTAINER_SIZES, value);
}

/** Validates a size name given by a user (case-insensitive). */
export function parseContainerSize(value: string): ContainerSize {
  const upper = value.trim().toUpperCase();
  if (!isContainerSize(upper)) {
    throw new SlipwayError(
      'request.invalid',
      `unknown container size "${value}": use one of ${Object.keys(CONTAINER_SIZES).join(', ')}`,
    );
  }
  return upper;
}

export function limitsOf(size: ContainerSize): ContainerLimits {
  return CONTAINER_SIZES[size];
}
