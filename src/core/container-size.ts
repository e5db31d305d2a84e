// Container sizes, as on Scalingo: each app's processes run in one size, its
// postdeploy hook in its own (default M). A size sets the memory limit (also
// given to the app as CONTAINER_MEMORY), the process/thread limit and the
// relative CPU weight. Drivers without cgroups (process) do not enforce them.

import { SlipwayError } from './errors.ts';

export interface ContainerLimits {
  readonly memoryBytes: number;
  /** Maximum processes and threads in the container. */
  readonly pids: number;
  /** Relative CPU weight (cgroup v1 cpu.shares; 1024 = one default share). */
  readonly cpuShares: number;
}

const MiB = 1024 * 1024;

export const CONTAINER_SIZES = {
  S: { memoryBytes: 256 * MiB, pids: 128, cpuShares: 256 },
  M: { memoryBytes: 512 * MiB, pids: 256, cpuShares: 512 },
  L: { memoryBytes: 1024 * MiB, pids: 512, cpuShares: 1024 },
  XL: { memoryBytes: 2048 * MiB, pids: 1024, cpuShares: 2048 },
  '2XL': { memoryBytes: 4096 * MiB, pids: 2048, cpuShares: 4096 },
} as const satisfies Record<string, ContainerLimits>;

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
