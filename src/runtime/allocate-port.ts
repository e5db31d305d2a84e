// Host TCP ports for containers' $PORT. A port is handed out only when nothing
// listens on it, and stays reserved until released, so two live containers of
// one driver never share a port even if the first app has not bound it yet.

import { createServer } from 'node:net';

export interface PortAllocator {
  /** A free port, reserved until `release`. Throws when none is free. */
  allocate(): Promise<number>;
  release(port: number): void;
  /** Marks a port in use by a container this allocator did not hand it to (one adopted at start-up). */
  claim(port: number): void;
}

export interface PortAllocatorOptions {
  /** Inclusive range to pick from; default: whatever free port the kernel picks. */
  readonly range?: readonly [number, number] | undefined;
}

/** How many kernel-picked ports to try before giving up (each retry means it picked a reserved one). */
const KERNEL_PICK_ATTEMPTS = 20;

export function createPortAllocator(options: PortAllocatorOptions = {}): PortAllocator {
  const reserved = new Set<number>();
  const range = options.range;
  if (range !== undefined) {
    const [low, high] = range;
    if (!Number.isInteger(low) || !Number.isInteger(high) || low < 1 || high > 65535 || low > high) {
      throw new Error(`invalid port range ${low}-${high}`);
    }
  }
  // Walk the range round-robin so a just-released port (maybe still answering
  // or in TIME_WAIT for a retired container) is the last to be reused.
  let cursor = range === undefined ? 0 : range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));

  async function fromRange([low, high]: readonly [number, number]): Promise<number> {
    const size = high - low + 1;
    for (let i = 0; i < size; i++) {
      const port = low + ((cursor - low + i) % size);
      if (reserved.has(port)) continue;
      // Reserve before the async probe so concurrent allocations skip it.
      reserved.add(port);
      if (await isFree(port)) {
        cursor = port + 1;
        return port;
      }
      reserved.delete(port);
    }
    throw new Error(`no free port in ${low}-${high}`);
  }

  async function fromKernel(): Promise<number> {
    for (let i = 0; i < KERNEL_PICK_ATTEMPTS; i++) {
      const port = await kernelPick();
      if (!reserved.has(port)) {
        reserved.add(port);
        return port;
      }
    }
    throw new Error('no free port: the kernel kept picking reserved ones');
  }

  return {
    allocate: () => (range === undefined ? fromKernel() : fromRange(range)),
    release: (port) => {
      reserved.delete(port);
    },
    claim: (port) => {
      reserved.add(port);
    },
  };
}

// Probing without a host binds the unspecified address (`::` dual-stack, or
// 0.0.0.0 without IPv6), which conflicts with any listener on that port, so an
// app may then listen on 0.0.0.0, 127.0.0.1 or `::` alike.
function listenOnce(port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(null);
      else reject(err);
    });
    server.listen({ port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

async function isFree(port: number): Promise<boolean> {
  return (await listenOnce(port)) === port;
}

async function kernelPick(): Promise<number> {
  const port = await listenOnce(0);
  if (port === null) throw new Error('could not bind an ephemeral port');
  return port;
}
