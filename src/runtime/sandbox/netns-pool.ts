// The network namespaces containers run in: one per running container (and
// build step), each with an address of the home's subnet, a veth pair to the
// bridge, and its own nftables table. Making one takes three short processes
// (`ip` on the host, `ip` and `nft` in the namespace) and deleting one a
// fourth, tens of milliseconds on a busy host: so a few are kept made ahead,
// and a namespace whose container is over (every process of it gone, as its
// empty cgroup proves) goes back to the pool rather than being deleted. What
// such a namespace still holds (addresses, routes, the nftables table,
// sysctls) only root on the host can change; sockets and everything else a
// container made ended with its processes. Requests that arrive together are
// made in one host batch, and deletions (beyond MAX_IDLE, or of a namespace
// whose container could not be emptied) are batched too.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import { deleteNetns, type HostNetwork, NETNS_DIR, runIpBatch } from './host-network.ts';
import {
  CONTAINER_SYSCTL_SCRIPT,
  containerRuleset,
  createNetnsBatch,
  gatewayOf,
  insideNetnsBatch,
  intToIp,
  type NetnsEntry,
  type NetworkNames,
  type NetworkTools,
  netnsEntry,
  type Subnet,
  subnetSize,
} from './network-plan.ts';

export interface NetnsLease {
  readonly name: string;
  /** `/run/netns/<name>`: what the container's chain enters with nsenter. */
  readonly path: string;
  /** The container's IPv4 address on the bridge. */
  readonly address: string;
  /**
   * Gives the namespace back for another container. Only once no process
   * runs in it any more (the container's cgroup is empty). Idempotent.
   */
  release(): Promise<void>;
  /** Deletes the namespace (its veth pair with it), then frees its address: when processes may be left in it. */
  discard(): Promise<void>;
}

export interface NetnsPool {
  take(): Promise<NetnsLease>;
  /** Whether this pool made the namespace and has not deleted it yet. */
  owns(name: string): boolean;
  /** Deletes every namespace it made, taken or not. */
  close(): Promise<void>;
}

/** Namespaces kept ready: one for a hook prepared while the web containers boot, one for the next start. */
export const DEFAULT_POOL_SIZE = 2;
/** Namespaces given back beyond this many idle ones are deleted (after a burst of containers). */
const MAX_IDLE = 8;
/** At most this many namespaces are made by one batch (and so at once). */
const MAX_BATCH = 8;

/**
 * The pool's first namespaces, planned before the pool exists so that the
 * host network's set-up makes their host side in the bridge's own batch
 * (host-network.ts); they take the subnet's first container addresses.
 */
export function firstNetnsEntries(names: NetworkNames, subnet: Subnet, count = DEFAULT_POOL_SIZE): NetnsEntry[] {
  return Array.from({ length: count }, (_, i) =>
    netnsEntry(names, randomBytes(6).toString('hex'), gatewayOf(subnet) + 1 + i),
  );
}

export interface NetnsPoolOptions {
  readonly size?: number;
  /** Namespaces whose host side (namespace, veth pair, bridge port) exists already: see firstNetnsEntries. */
  readonly made?: readonly NetnsEntry[];
}

export function createNetnsPool(tools: NetworkTools, host: HostNetwork, options: NetnsPoolOptions = {}): NetnsPool {
  const { names, subnet } = host;
  const size = options.size ?? DEFAULT_POOL_SIZE;
  const addresses = addressAllocator(subnet.network, subnetSize(subnet));
  /** Namespaces made and not yet deleted, by name. */
  const made = new Map<string, NetnsEntry>();
  /** Made or given back, waiting for a container, oldest first: a just-freed address is reused last. */
  const ready: NetnsEntry[] = [];
  const waiters: { resolve: (lease: NetnsLease) => void; reject: (err: unknown) => void }[] = [];
  let pumping: Promise<void> | undefined;
  let closed = false;

  const remove = batched(async (entries: NetnsEntry[]) => {
    const left = await deleteNetns(
      tools,
      names.netnsPrefix,
      entries.map((e) => e.name),
    );
    for (const entry of entries) {
      // A veth still there means the namespace may still answer for the address: keep it reserved.
      if (left.includes(entry.name) || existsSync(`/sys/class/net/${entry.veth}`)) continue;
      made.delete(entry.name);
      addresses.release(entry.address);
    }
    if (left.length > 0) throw new Error(`could not delete network namespaces ${left.join(', ')}`);
  });

  /** One container's use of a namespace. */
  function lease(entry: NetnsEntry): NetnsLease {
    let done: Promise<void> | undefined;
    return {
      name: entry.name,
      path: `${NETNS_DIR}/${entry.name}`,
      address: intToIp(entry.address),
      release() {
        done ??= (async () => {
          // After close, the namespace is gone already.
          if (!made.has(entry.name)) return;
          if (closed || ready.length >= MAX_IDLE) return remove(entry);
          ready.push(entry);
          serveWaiters();
        })();
        return done;
      },
      discard() {
        done ??= made.has(entry.name) ? remove(entry) : Promise.resolve();
        return done;
      },
    };
  }

  /** Hands ready namespaces to whoever waits. */
  function serveWaiters(): void {
    while (waiters.length > 0 && ready.length > 0) {
      const waiter = waiters.shift();
      const entry = ready.shift();
      if (waiter && entry) waiter.resolve(lease(entry));
    }
  }

  async function create(count: number): Promise<NetnsEntry[]> {
    const entries: NetnsEntry[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const entry = netnsEntry(names, randomBytes(6).toString('hex'), addresses.allocate());
        entries.push(entry);
        made.set(entry.name, entry);
      }
      await runIpBatch(tools, createNetnsBatch(entries, names.bridge, host.mtu));
      await Promise.all(entries.map(configureInside));
    } catch (err) {
      await Promise.allSettled(entries.map((entry) => remove(entry)));
      throw err;
    }
    return entries;
  }

  /** The namespace's own side: loopback, address and route; then route_localnet and the nft table, as root in it. */
  async function configureInside(entry: NetnsEntry): Promise<void> {
    await Promise.all([
      runIpBatch(tools, insideNetnsBatch(entry, subnet), { netns: entry.name }),
      runChecked(
        [
          tools.nsenter,
          `--net=${NETNS_DIR}/${entry.name}`,
          '/bin/sh',
          '-c',
          CONTAINER_SYSCTL_SCRIPT,
          'slipway-netns-setup',
          tools.nft,
        ],
        { env: HELPER_ENV, stdin: Readable.from([containerRuleset()]), timeoutMs: 20_000 },
      ),
    ]);
  }

  /** Makes namespaces while someone waits or the pool is short, one batch at a time. */
  function pump(): void {
    if (pumping !== undefined || closed) return;
    pumping = (async () => {
      while (!closed && (waiters.length > 0 || ready.length < size)) {
        const count = Math.max(1, Math.min(MAX_BATCH, waiters.length + size - ready.length));
        let entries: NetnsEntry[];
        try {
          entries = await create(count);
        } catch (err) {
          // Those waiting get the reason; an idle refill just stops (the next take tries again).
          for (const waiter of waiters.splice(0)) waiter.reject(err);
          break;
        }
        ready.push(...entries);
        serveWaiters();
      }
    })().finally(() => {
      pumping = undefined;
      if (waiters.length > 0 && !closed) pump();
    });
  }

  // The first ones were made with the bridge: only their inside is left to do. Then the pool
  // fills from the start, so that the first container (the sandbox's probe) finds one ready.
  const halfMade = options.made ?? [];
  for (const entry of halfMade) {
    made.set(entry.name, entry);
    addresses.reserve(entry.address);
  }
  pumping = Promise.all(halfMade.map(configureInside)).then(
    () => {
      ready.push(...halfMade);
      serveWaiters();
    },
    async () => {
      // Made again by the pump below, which reports what fails to whoever waits.
      await Promise.allSettled(halfMade.map((entry) => remove(entry)));
    },
  );
  void pumping.finally(() => {
    pumping = undefined;
    pump();
  });
  return {
    take() {
      if (closed) return Promise.reject(new Error('the container network was closed'));
      const taken = ready.shift();
      pump();
      if (taken !== undefined) return Promise.resolve(lease(taken));
      return new Promise((resolve, reject) => {
        waiters.push({ resolve, reject });
        pump();
      });
    },
    owns: (name) => made.has(name),
    async close() {
      closed = true;
      await pumping;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('the container network was closed'));
      ready.length = 0;
      const entries = [...made.values()];
      if (entries.length > 0) await remove.all(entries);
    },
  };
}

/** Host addresses of the subnet (not its first two, the network and the gateway, nor the broadcast), handed out round-robin so a just-freed one is reused last. */
function addressAllocator(network: number, size: number) {
  const first = gatewayOf({ network, prefix: 0 }) + 1; // network + 2
  const last = network + size - 2;
  const taken = new Set<number>();
  let cursor = first;
  return {
    allocate(): number {
      const count = last - first + 1;
      for (let i = 0; i < count; i++) {
        const address = first + ((cursor - first + i) % count);
        if (taken.has(address)) continue;
        taken.add(address);
        cursor = address + 1;
        return address;
      }
      throw new Error('no free address left in the container subnet');
    },
    reserve(address: number): void {
      taken.add(address);
      if (address >= cursor) cursor = address + 1;
    },
    release(address: number): void {
      taken.delete(address);
    },
  };
}

/**
 * Runs `run` on items in batches: an item queued while a batch runs goes into
 * the next one. Each caller's promise settles with its own batch.
 */
function batched<T>(run: (items: T[]) => Promise<void>) {
  let previous: Promise<void> = Promise.resolve();
  let pending: { items: T[]; done: Promise<void> } | undefined;
  const queue = (items: readonly T[]): Promise<void> => {
    if (pending === undefined) {
      const batch: T[] = [];
      const done = previous.then(() => {
        pending = undefined;
        return run(batch);
      });
      pending = { items: batch, done };
      previous = done.catch(() => {});
    }
    pending.items.push(...items);
    return pending.done;
  };
  return Object.assign((item: T) => queue([item]), { all: queue });
}
