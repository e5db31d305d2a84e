// The docker driver's network, one per Slipway home: a docker bridge network
// `slipway-<key>` (bridge `sd-<key>`) with inter-container communication
// disabled, so containers cannot reach each other; docker's own isolation
// chains keep it apart from every other docker network. Docker lets containers
// reach every port of the host, so a table of ours (`inet slipway_docker_<key>`)
// refuses their connections to the host but to the ports allowed (the router's),
// and to link-local addresses (cloud metadata). Inside each container, TCP
// arriving on eth0 goes on to its loopback (as in the sandbox), so an app
// listening on 127.0.0.1 is reached like one on 0.0.0.0.

import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import { CONTAINER_SYSCTL_SCRIPT, containerRuleset } from '../sandbox/network-plan.ts';
import type { Engine, EngineError } from './engine.ts';

export interface DockerNetwork {
  readonly name: string;
  readonly bridge: string;
  /** The host's address on the network (where containers reach the router and the add-ons), and its subnet. */
  readonly gateway: string;
  readonly subnet: string;
  /** Lets containers open connections to these ports of the host (the router's), and no other. */
  allowHostPorts(ports: readonly number[]): Promise<void>;
  /** Sends TCP arriving on the container's eth0 on to its loopback (run once it is running). */
  routeToLoopback(containerPid: number): Promise<void>;
  /** Removes the network and the host's table (a home that is deleted: tests). */
  remove(): Promise<void>;
}

export function dockerNetworkNames(key: string) {
  return { name: `slipway-${key}`, bridge: `sd-${key}`, table: `slipway_docker_${key}` };
}

/**
 * Opens (makes, or finds) the network of the home whose key is `key`. With `home`, the network
 * records the home's path, and the networks of homes that no longer exist are removed first
 * (with their tables): each holds one of dockerd's address pools, of which there are few.
 */
export async function openDockerNetwork(engine: Engine, key: string, home?: string): Promise<DockerNetwork> {
  const { name, bridge, table } = dockerNetworkNames(key);
  await removeNetworksOfDeletedHomes(engine);
  try {
    await engine.request('POST', '/networks/create', {
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      EnableIPv6: false,
      Labels: { 'slipway.home': key, ...(home === undefined ? {} : { 'slipway.home.path': home }) },
      Options: {
        'com.docker.network.bridge.name': bridge,
        'com.docker.network.bridge.enable_icc': 'false',
      },
    });
  } catch (err) {
    if ((err as EngineError).status !== 409) throw err; // 409: it exists (an earlier run, another driver)
  }
  const inspected = await engine.request<{ IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } }>(
    'GET',
    `/networks/${name}`,
  );
  const ipam = inspected.IPAM?.Config?.find((c) => c.Gateway !== undefined && c.Subnet !== undefined);
  if (ipam?.Gateway === undefined || ipam.Subnet === undefined) throw new Error(`docker network ${name} has no subnet`);
  let allowed: readonly number[] = [];
  const applyTable = () =>
    runChecked(['nft', '-f', '-'], { env: HELPER_ENV, stdin: Readable.from([hostRuleset(table, bridge, allowed)]) });
  await applyTable();
  return {
    name,
    bridge,
    gateway: ipam.Gateway,
    subnet: ipam.Subnet,
    async allowHostPorts(ports) {
      allowed = [...new Set([...allowed, ...ports])];
      await applyTable();
    },
    async routeToLoopback(pid) {
      // The sandbox's own rule and sysctl, run as root in the container's network namespace.
      const argv = ['nsenter', `--net=/proc/${pid}/ns/net`, '/bin/sh', '-c', CONTAINER_SYSCTL_SCRIPT, 'sh', 'nft'];
      await runChecked(argv, { env: HELPER_ENV, stdin: Readable.from([containerRuleset()]) });
    },
    async remove() {
      await engine.request('DELETE', `/networks/${name}`).catch(() => {});
      await runChecked(['nft', 'delete', 'table', 'inet', table], { env: HELPER_ENV }).catch(() => {});
    },
  };
}

/** The host's table for the home's bridge, replaced as a whole in one transaction. */
export function hostRuleset(table: string, bridge: string, ports: readonly number[]): string {
  const allow = ports.length > 0 ? [`    iifname "${bridge}" tcp dport { ${ports.join(', ')} } accept`] : [];
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname "${bridge}" ct state established,related accept`,
    `    iifname "${bridge}" udp dport 53 reject`,
    ...allow,
    `    iifname "${bridge}" meta l4proto tcp reject with tcp reset`,
    `    iifname "${bridge}" reject with icmpx admin-prohibited`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname "${bridge}" ip daddr 169.254.0.0/16 reject with icmpx admin-prohibited`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function removeNetworksOfDeletedHomes(engine: Engine): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: ['slipway.home.path'] }));
  const networks = await engine.request<{ Name: string; Labels: Record<string, string> }[]>(
    'GET',
    `/networks?filters=${filters}`,
  );
  for (const network of networks) {
    const home = network.Labels['slipway.home.path'];
    const key = network.Labels['slipway.home'];
    if (home === undefined || key === undefined || existsSync(home)) continue;
    // A network some container still uses (its server is running after all) stays: dockerd refuses.
    await engine.request('DELETE', `/networks/${network.Name}`).catch(() => {});
    const { table } = dockerNetworkNames(key);
    await runChecked(['nft', 'delete', 'table', 'inet', table], { env: HELPER_ENV }).catch(() => {});
  }
}
