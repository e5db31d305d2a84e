// The host side of one Slipway home's container network: its bridge (with
// the gateway address and the home recorded as the bridge's ifalias), its
// nftables table, and IPv4 forwarding. Set-up first removes what an earlier
// run of the same home left, and the networks of homes whose directory no
// longer exists; then it picks a free subnet. The per-container namespaces
// plugged into the bridge belong to netns-pool.ts.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { HELPER_ENV, runChecked, runProcess } from '../../exec/index.ts';
import {
  allowPortsScript,
  BRIDGE_NAME,
  bridgeBatch,
  candidateSubnets,
  deleteNetnsBatch,
  deleteTableScript,
  type HostRoute,
  homeAlias,
  homeOfAlias,
  hostRuleset,
  ipToInt,
  type NetworkNames,
  type NetworkTools,
  namesOfKey,
  networkNames,
  overlaps,
  parseNameservers,
  parseProcNetRoute,
  pickSubnet,
  SUBNET_POOL,
  SUBNET_PREFIX,
  type Subnet,
  subnetText,
} from './network-plan.ts';

export const NETNS_DIR = '/run/netns';
const SYS_NET = '/sys/class/net';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
/** How many subnets set-up tries when another home claims the one it picked at the same moment. */
const SUBNET_ATTEMPTS = 8;
const TOOL_TIMEOUT_MS = 20_000;

export interface HostNetwork {
  readonly names: NetworkNames;
  readonly subnet: Subnet;
  readonly mtu: number;
  /** `on`: forwarding was on already; `enabled`: set-up turned it on. */
  readonly ipForward: 'on' | 'enabled';
  /** Namespaces of this home an earlier run left, removed by set-up. */
  readonly leftovers: number;
  /** Homes whose directory is gone, whose networks set-up removed. */
  readonly collected: readonly string[];
  /** Lets containers open TCP connections to these ports of the host (the router's). */
  allowPorts(ports: readonly number[]): Promise<void>;
  /** Removes the table and the bridge (the namespaces must be gone first). */
  remove(): Promise<void>;
}

/** Runs an `ip -batch` script; `force` goes on past failing lines (removals of what may be gone). */
export async function runIpBatch(
  tools: NetworkTools,
  script: string,
  options: { readonly netns?: string; readonly force?: boolean } = {},
): Promise<void> {
  const argv = [tools.ip, ...(options.netns ? ['-n', options.netns] : []), ...(options.force ? ['-force'] : [])];
  argv.push('-batch', '-');
  if (options.force) {
    // Failing lines are expected there; the caller checks what is left.
    await runProcess(argv, { env: HELPER_ENV, stdin: Readable.from([script]), timeoutMs: TOOL_TIMEOUT_MS });
    return;
  }
  await runChecked(argv, { env: HELPER_ENV, stdin: Readable.from([script]), timeoutMs: TOOL_TIMEOUT_MS });
}

export async function runNft(tools: NetworkTools, script: string): Promise<void> {
  await runChecked([tools.nft, '-f', '-'], {
    env: HELPER_ENV,
    stdin: Readable.from([script]),
    timeoutMs: TOOL_TIMEOUT_MS,
  });
}

/** Names of the namespaces under /run/netns starting with `prefix`. */
export function netnsNamed(prefix: string): string[] {
  try {
    return readdirSync(NETNS_DIR).filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Deletes namespaces (and their veth pairs) named `<prefix><id>`; returns those still there afterwards. */
export async function deleteNetns(tools: NetworkTools, prefix: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const entries = names.map((name) => ({ name, veth: `sv-${name.slice(prefix.length)}` }));
  await runIpBatch(tools, deleteNetnsBatch(entries), { force: true });
  return names.filter((name) => existsSync(`${NETNS_DIR}/${name}`));
}

/** Everything of one home's network: namespaces, table, bridge. Missing parts are fine. */
export async function removeHomeNetwork(tools: NetworkTools, names: NetworkNames): Promise<number> {
  const netns = netnsNamed(names.netnsPrefix);
  const left = await deleteNetns(tools, names.netnsPrefix, netns);
  await runNft(tools, `${deleteTableScript(names).join('\n')}\n`);
  if (existsSync(`${SYS_NET}/${names.bridge}`)) await runIpBatch(tools, `link del dev ${names.bridge}\n`);
  if (left.length > 0) throw new Error(`could not delete network namespaces ${left.join(', ')}`);
  return netns.length;
}

/** Bridges of Slipway homes on this host: name → the home recorded in its alias (null when unrecorded). */
function slipwayBridges(): Map<string, string | null> {
  const found = new Map<string, string | null>();
  let entries: string[];
  try {
    entries = readdirSync(SYS_NET);
  } catch {
    return found;
  }
  for (const name of entries) {
    if (!BRIDGE_NAME.test(name) || !existsSync(`${SYS_NET}/${name}/bridge`)) continue;
    found.set(name, homeOfAlias(readOr(`${SYS_NET}/${name}/ifalias`, '')));
  }
  return found;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function hostRoutes(): HostRoute[] {
  return parseProcNetRoute(readOr('/proc/net/route', ''));
}

/** The MTU of the interface the default route leaves by (1500 without one): containers' packets fit it. */
function uplinkMtu(routes: readonly HostRoute[]): number {
  const uplink = routes.find((route) => route.subnet.prefix === 0);
  const mtu = uplink ? Number(readOr(`${SYS_NET}/${uplink.iface}/mtu`, '').trim()) : Number.NaN;
  return Number.isInteger(mtu) && mtu >= 576 ? mtu : 1500;
}

/** IPv4 name servers of the host: a home's subnet must not capture the route to them. */
function nameserverAddresses(): number[] {
  return parseNameservers(readOr('/etc/resolv.conf', ''))
    .filter((address) => /^\d+\.\d+\.\d+\.\d+$/.test(address))
    .map(ipToInt);
}

/** Turns IPv4 forwarding on (NAT for containers needs it); says whether it already was. */
function enableForwarding(): 'on' | 'enabled' {
  if (readOr(IP_FORWARD, '0').trim() === '1') return 'on';
  writeFileSync(IP_FORWARD, '1');
  return 'enabled';
}

export async function setUpHostNetwork(
  tools: NetworkTools,
  home: string,
  ports: readonly number[],
): Promise<HostNetwork> {
  const names = networkNames(home);
  // What this home's earlier run left (a crash), then homes that are gone.
  const leftovers = await removeHomeNetwork(tools, names);
  const collected: string[] = [];
  for (const [bridge, owner] of slipwayBridges()) {
    if (owner === null || existsSync(owner)) continue;
    const key = BRIDGE_NAME.exec(bridge)?.[1];
    if (key === undefined || key === names.key) continue;
    // Someone else's leftovers: failing to remove them must not keep this home from starting.
    const removed = await removeHomeNetwork(tools, namesOfKey(key)).then(
      () => true,
      () => false,
    );
    if (removed) collected.push(owner);
  }
  const ipForward = enableForwarding();
  const routes = hostRoutes();
  const mtu = uplinkMtu(routes);
  const subnet = await claimSubnet(tools, names, mtu);
  try {
    const alias = homeAlias(home);
    if (alias !== null) writeFileSync(`${SYS_NET}/${names.bridge}/ifalias`, alias);
    await runNft(tools, hostRuleset(names, subnet, ports));
  } catch (err) {
    await removeHomeNetwork(tools, names).catch(() => {});
    throw err;
  }
  return {
    names,
    subnet,
    mtu,
    ipForward,
    leftovers,
    collected,
    async allowPorts(added) {
      if (added.length > 0) await runNft(tools, allowPortsScript(names, added));
    },
    async remove() {
      await runNft(tools, `${deleteTableScript(names).join('\n')}\n`);
      if (existsSync(`${SYS_NET}/${names.bridge}`)) await runIpBatch(tools, `link del dev ${names.bridge}\n`);
    },
  };
}

/**
 * Makes the bridge on the first free subnet (by the routes now), then checks
 * the routes again: when another home set up the same subnet meanwhile, its
 * route shows on its own bridge, and this one tries the next.
 */
async function claimSubnet(tools: NetworkTools, names: NetworkNames, mtu: number): Promise<Subnet> {
  const candidates = candidateSubnets(names.key);
  const avoid = nameserverAddresses();
  const refused: Subnet[] = [];
  for (let attempt = 0; attempt < SUBNET_ATTEMPTS; attempt++) {
    const others = hostRoutes().filter((route) => route.iface !== names.bridge);
    const subnet = pickSubnet(candidates, [...others.map((route) => route.subnet), ...refused], avoid);
    if (subnet === null) break;
    await runIpBatch(tools, bridgeBatch(names, subnet, mtu));
    const clash = hostRoutes().some(
      (route) => route.iface !== names.bridge && route.subnet.prefix > 0 && overlaps(route.subnet, subnet),
    );
    if (!clash) return subnet;
    await runIpBatch(tools, `link del dev ${names.bridge}\n`);
    refused.push(subnet);
  }
  throw new Error(`no free /${SUBNET_PREFIX} for containers in ${subnetText(SUBNET_POOL)}`);
}
