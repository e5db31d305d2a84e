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

/**
 * Everything of one home's network: namespaces (with their veth pairs) and
 * bridge in one `ip` batch, when there are any, and the table unless `table`
 * is false (a set-up replaces it anyway). Missing parts are fine. Returns how
 * many namespaces there were.
 */
export async function removeHomeNetwork(
  tools: NetworkTools,
  names: NetworkNames,
  { table = true }: { readonly table?: boolean } = {},
): Promise<number> {
  const { netns, script } = removalBatch(names);
  await Promise.all([
    script === '' ? undefined : runIpBatch(tools, script, { force: true }),
    table ? runNft(tools, `${deleteTableScript(names).join('\n')}\n`) : undefined,
  ]);
  const left = netns.filter((name) => existsSync(`${NETNS_DIR}/${name}`));
  if (left.length > 0) throw new Error(`could not delete network namespaces ${left.join(', ')}`);
  if (existsSync(`${SYS_NET}/${names.bridge}`)) throw new Error(`could not delete the bridge ${names.bridge}`);
  return netns.length;
}

/** `ip -batch` lines deleting what exists now of a home's namespaces, veth pairs and bridge (so none fails). */
function removalBatch(names: NetworkNames): { netns: string[]; script: string } {
  const netns = netnsNamed(names.netnsPrefix);
  const links = netns.map((name) => {
    const veth = `sv-${name.slice(names.netnsPrefix.length)}`;
    return { name, veth: existsSync(`${SYS_NET}/${veth}`) ? veth : '' };
  });
  const bridge = existsSync(`${SYS_NET}/${names.bridge}`) ? `link del dev ${names.bridge}\n` : '';
  return { netns, script: `${links.length > 0 ? deleteNetnsBatch(links) : ''}${bridge}` };
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

/**
 * Sets the home's network up: `more` gives `ip -batch` lines run with the
 * bridge's, in the same process (the pool's first namespaces), for the subnet
 * picked. Set-up is on the server's start-up path, so what an earlier run of
 * the home left is deleted by that batch too, and the table (which names the
 * bridge only by name) is loaded at the same time.
 */
export async function setUpHostNetwork(
  tools: NetworkTools,
  home: string,
  ports: readonly number[],
  more: (subnet: Subnet, mtu: number) => string = () => '',
): Promise<HostNetwork> {
  const names = networkNames(home);
  // What this home's earlier run left (a crash): removed by the bridge's batch. Its table is replaced.
  const leftover = removalBatch(names);
  const leftovers = leftover.netns.length;
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
  let subnet: Subnet;
  try {
    subnet = await claimSubnet(tools, names, {
      before: leftover.script,
      after: (picked) => more(picked, mtu),
      mtu,
      alongside: (picked) => runNft(tools, hostRuleset(names, picked, ports)),
    });
    const alias = homeAlias(home);
    if (alias !== null) writeFileSync(`${SYS_NET}/${names.bridge}/ifalias`, alias);
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
 * Makes the bridge on the first free subnet (by the routes now), in one
 * batch between `before` and `after`'s lines, with `alongside` for that
 * subnet; then checks the routes again: when another home set up the same
 * subnet meanwhile, its route shows on its own bridge, and this one removes
 * what it made and tries the next.
 */
async function claimSubnet(
  tools: NetworkTools,
  names: NetworkNames,
  plan: {
    readonly before: string;
    readonly after: (subnet: Subnet) => string;
    readonly mtu: number;
    readonly alongside: (subnet: Subnet) => Promise<void>;
  },
): Promise<Subnet> {
  const candidates = candidateSubnets(names.key);
  const avoid = nameserverAddresses();
  const refused: Subnet[] = [];
  for (let attempt = 0; attempt < SUBNET_ATTEMPTS; attempt++) {
    const others = hostRoutes().filter((route) => route.iface !== names.bridge);
    const subnet = pickSubnet(candidates, [...others.map((route) => route.subnet), ...refused], avoid);
    if (subnet === null) break;
    const script = `${attempt === 0 ? plan.before : ''}${bridgeBatch(names, subnet, plan.mtu)}${plan.after(subnet)}`;
    await Promise.all([runIpBatch(tools, script), plan.alongside(subnet)]);
    const clash = hostRoutes().some(
      (route) => route.iface !== names.bridge && route.subnet.prefix > 0 && overlaps(route.subnet, subnet),
    );
    if (!clash) return subnet;
    await removeHomeNetwork(tools, names, { table: false });
    refused.push(subnet);
  }
  throw new Error(`no free /${SUBNET_PREFIX} for containers in ${subnetText(SUBNET_POOL)}`);
}
