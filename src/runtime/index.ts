// The runtime seam: the driver interface, the concrete drivers (picked only by
// server.ts) and the helpers the pipeline uses around any driver.

export { createPortAllocator, type PortAllocator, type PortAllocatorOptions } from './allocate-port.ts';
export { createProcessDriver, type ProcessDriverOptions } from './process/index.ts';
export type { ContainerExit, ContainerHandle, ContainerSpec, RuntimeDriver } from './types.ts';
export { type WaitForPortOptions, waitForPort } from './wait-for-port.ts';
