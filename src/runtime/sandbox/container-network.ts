// One Slipway home's container network as the sandbox uses it: set up on
// first use (host-network.ts: bridge, nftables table, forwarding), handing
// out one fresh network namespace per container (netns-pool.ts), and taken
// down whole by close(); a later use sets it up again, as the cgroup parents
// are made again after the sandbox closes.

import { deleteNetns, type HostNetwork, netnsNamed, setUpHostNetwork } from './host-network.ts';
import { createNetnsPool, firstNetnsEntries, type NetnsLease, type NetnsPool } from './netns-pool.ts';
import {
  createNetnsBatch,
  gatewayOf,
  intToIp,
  type NetnsEntry,
  type NetworkTools,
  networkNames,
  subnetText,
} from './network-plan.ts';

/** What the start-up log says about the network. */
export interface NetworkState {
  readonly bridge: string;
  readonly table: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly ipForward: 'on' | 'enabled';
  /** Homes whose directory is gone, whose networks set-up removed. */
  readonly collected: readonly string[];
}

export interface ContainerNetwork {
  /** Sets the network up now (the sandbox probe), instead of at the first lease. */
  open(): Promise<NetworkState>;
  /** A namespace for one container: made ahead, or given back by a container that is over. */
  lease(): Promise<NetnsLease>;
  /** Host TCP ports containers may connect to, through the bridge's address (the router's). */
  allowHostPorts(ports: readonly number[]): Promise<void>;
  /** Deletes this home's namespaces an earlier run left; returns how many there were. */
  sweep(): Promise<number>;
  /** Deletes every namespace, the table and the bridge. */
  close(): Promise<void>;
}

export function createContainerNetwork(
  tools: NetworkTools,
  home: string,
  hostPorts: readonly number[] = [],
): ContainerNetwork {
  const names = networkNames(home);
  const ports = new Set<number>(hostPorts);
  let opened: Promise<{ host: HostNetwork; pool: NetnsPool }> | undefined;
  let closing: Promise<void> = Promise.resolve();
  /** Leftovers found at set-up, reported by the next sweep. */
  let leftovers = 0;

  function open() {
    if (opened === undefined) {
      const opening = closing
        .catch(() => {})
        .then(async () => {
          // The pool's first namespace is made in the bridge's own `ip` batch: on the start-up path,
          // it serves the sandbox's probe, then (recycled) the first container; the pool makes the rest.
          let first: NetnsEntry[] = [];
          const host = await setUpHostNetwork(tools, home, [...ports], (subnet, mtu) => {
            first = firstNetnsEntries(names, subnet, 1);
            return createNetnsBatch(first, names.bridge, mtu);
          });
          leftovers += host.leftovers;
          return { host, pool: createNetnsPool(tools, host, { made: first }) };
        });
      opened = opening;
      // A failed set-up is tried again by the next use, not remembered.
      opening.catch(() => {
        if (opened === opening) opened = undefined;
      });
    }
    return opened;
  }

  return {
    async open() {
      const { host } = await open();
      return {
        bridge: host.names.bridge,
        table: `inet ${host.names.table}`,
        subnet: subnetText(host.subnet),
        gateway: intToIp(gatewayOf(host.subnet)),
        ipForward: host.ipForward,
        collected: host.collected,
      };
    },
    async lease() {
      return (await open()).pool.take();
    },
    async allowHostPorts(added) {
      const fresh = added.filter((port) => !ports.has(port));
      for (const port of fresh) ports.add(port);
      // A network not set up yet gets them in its ruleset.
      if (opened !== undefined && fresh.length > 0) await (await open()).host.allowPorts(fresh);
    },
    async sweep() {
      const { host, pool } = await open();
      const stale = netnsNamed(host.names.netnsPrefix).filter((name) => !pool.owns(name));
      const left = await deleteNetns(tools, host.names.netnsPrefix, stale);
      if (left.length > 0) throw new Error(`could not delete network namespaces ${left.join(', ')}`);
      const found = leftovers + stale.length;
      leftovers = 0;
      return found;
    },
    close() {
      const current = opened;
      opened = undefined;
      closing = closing
        .catch(() => {})
        .then(async () => {
          const parts = await current?.catch(() => undefined);
          if (parts === undefined) return;
          await parts.pool.close();
          await parts.host.remove();
        });
      return closing;
    },
  };
}
