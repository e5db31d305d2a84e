// Slipway's container network as plain data, no I/O: the names a Slipway
// home's bridge, nftables table and network namespaces get (from a hash of
// the home, so several homes on one host never collide), its subnet and the
// addresses in it, and the text of the `ip -batch` and `nft -f` scripts that
// build and remove it. host-network.ts and netns-pool.ts run them.
//
// Every name and address in these scripts is made here from hex digits and
// numbers: nothing a user sends ever reaches them.

import { createHash } from 'node:crypto';

/** The tools the network needs (iproute2, nftables, util-linux). */
export interface NetworkTools {
  readonly ip: string;
  readonly nft: string;
  readonly nsenter: string;
}

export interface NetworkNames {
  /** 12 hex digits of sha256(home): the same key names the home's cgroup parent. */
  readonly key: string;
  /** The bridge (15 characters, the kernel's limit). */
  readonly bridge: string;
  /** The nftables table, family inet. */
  readonly table: string;
  /** Every network namespace of the home is named `<netnsPrefix><12 hex digits>`. */
  readonly netnsPrefix: string;
}

export function homeKey(home: string): string {
  return createHash('sha256').update(home).digest('hex').slice(0, 12);
}

export function networkNames(home: string): NetworkNames {
  return namesOfKey(homeKey(home));
}

export function namesOfKey(key: string): NetworkNames {
  return { key, bridge: `sw-${key}`, table: `slipway_${key}`, netnsPrefix: `slipway-${key}-` };
}

/** Bridges Slipway made: `sw-` and a home key. */
export const BRIDGE_NAME = /^sw-([0-9a-f]{12})$/;

// The bridge's ifalias names its home, so that a later start can tell a bridge of a home that no
// longer exists (a deleted temporary home) from one whose server still runs.
const ALIAS_PREFIX = 'slipway home ';
/** The kernel keeps at most 255 bytes of an ifalias. */
const ALIAS_MAX_BYTES = 255;

/** The alias recording the home, or null when the path is too long to be kept whole. */
export function homeAlias(home: string): string | null {
  const alias = `${ALIAS_PREFIX}${home}`;
  return Buffer.byteLength(alias) <= ALIAS_MAX_BYTES && !alias.includes('\n') ? alias : null;
}

export function homeOfAlias(alias: string): string | null {
  const trimmed = alias.replace(/\n$/, '');
  return trimmed.startsWith(ALIAS_PREFIX) ? trimmed.slice(ALIAS_PREFIX.length) : null;
}

/** An IPv4 subnet; `network` as an unsigned 32-bit number. */
export interface Subnet {
  readonly network: number;
  readonly prefix: number;
}

/** Where homes' subnets come from: 10.192.0.0/10, in /20 blocks (4093 containers each). */
export const SUBNET_POOL: Subnet = { network: ipToInt('10.192.0.0'), prefix: 10 };
export const SUBNET_PREFIX = 20;

export function ipToInt(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`not an IPv4 address: ${address}`);
  return parts.reduce((value, part) => value * 256 + part, 0);
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function subnetText(subnet: Subnet): string {
  return `${intToIp(subnet.network)}/${subnet.prefix}`;
}

export function subnetSize(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefix);
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const mask = maskOf(Math.min(a.prefix, b.prefix));
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}

export function contains(subnet: Subnet, address: number): boolean {
  return overlaps(subnet, { network: address, prefix: 32 });
}

/** The bridge's own address: the subnet's first. */
export function gatewayOf(subnet: Subnet): number {
  return subnet.network + 1;
}

/**
 * Every /20 of the pool, starting at one picked by the home's key, so that
 * homes usually get different subnets at the first try, and the same home
 * the same subnet from one start to the next.
 */
export function candidateSubnets(key: string, pool: Subnet = SUBNET_POOL, prefix = SUBNET_PREFIX): Subnet[] {
  const count = 2 ** (prefix - pool.prefix);
  const first = Number.parseInt(key.slice(0, 8), 16) % count;
  const step = subnetSize({ network: 0, prefix });
  return Array.from({ length: count }, (_, i) => ({
    network: (pool.network + ((first + i) % count) * step) >>> 0,
    prefix,
  }));
}

/**
 * The first candidate overlapping no route of the host (the default route
 * aside) and containing none of `avoid` (name servers reached through the
 * default route, which the subnet's route would capture). Null when none is free.
 */
export function pickSubnet(candidates: readonly Subnet[], routes: readonly Subnet[], avoid: readonly number[]) {
  const routed = routes.filter((route) => route.prefix > 0);
  return (
    candidates.find(
      (candidate) =>
        !routed.some((route) => overlaps(route, candidate)) && !avoid.some((address) => contains(candidate, address)),
    ) ?? null
  );
}

/**
 * A container's MAC address, made from its IPv4 address (as Docker does): a
 * new container given an address that was used before gets the same MAC, so
 * the host's neighbour cache is never stale for it.
 */
export function macOf(address: number): string {
  return ['02', '53', ...[address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].map(hex2)].join(
    ':',
  );
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/**
 * `ip -batch` lines: the bridge, its address (the gateway) and no IPv6
 * link-local address. Its MAC is set (from the gateway's address): a bridge
 * left to itself takes the lowest MAC of its ports, which changes as
 * containers come and go, and a namespace reused from the pool would keep
 * sending to the old one (its neighbour entry for the gateway) until it
 * noticed, seconds later: its connections out time out meanwhile.
 */
export function bridgeBatch(names: NetworkNames, subnet: Subnet, mtu: number): string {
  return lines([
    `link add name ${names.bridge} mtu ${mtu} address ${macOf(gatewayOf(subnet))} type bridge`,
    `link set dev ${names.bridge} addrgenmode none`,
    `addr add ${intToIp(gatewayOf(subnet))}/${subnet.prefix} dev ${names.bridge}`,
    `link set dev ${names.bridge} up`,
  ]);
}

/** One container's network namespace, as the host sees it. */
export interface NetnsEntry {
  /** `slipway-<key>-<id>`, under /run/netns. */
  readonly name: string;
  /** The host side of the veth pair, `sv-<id>`. */
  readonly veth: string;
  readonly address: number;
}

export function netnsEntry(names: NetworkNames, id: string, address: number): NetnsEntry {
  return { name: `${names.netnsPrefix}${id}`, veth: `sv-${id}`, address };
}

/**
 * `ip -batch` lines run on the host: the namespaces, each with a veth pair
 * whose inner end is the namespace's `eth0` and whose outer end is an
 * isolated port of the bridge (isolated ports never exchange frames, so
 * containers cannot reach each other even on one L2 segment).
 */
export function createNetnsBatch(entries: readonly NetnsEntry[], bridge: string, mtu: number): string {
  return lines(
    entries.flatMap((e) => [
      `netns add ${e.name}`,
      `link add name ${e.veth} mtu ${mtu} type veth peer name eth0 address ${macOf(e.address)} mtu ${mtu} netns ${e.name}`,
      `link set dev ${e.veth} addrgenmode none`,
      `link set dev ${e.veth} master ${bridge}`,
      `link set dev ${e.veth} type bridge_slave isolated on`,
      `link set dev ${e.veth} up`,
    ]),
  );
}

/** `ip -n <namespace> -batch` lines: the container's loopback, its address (IPv4 only), its default route. */
export function insideNetnsBatch(entry: NetnsEntry, subnet: Subnet): string {
  return lines([
    'link set dev lo up',
    'link set dev eth0 addrgenmode none',
    `addr add ${intToIp(entry.address)}/${subnet.prefix} dev eth0`,
    'link set dev eth0 up',
    `route add default via ${intToIp(gatewayOf(subnet))} dev eth0`,
  ]);
}

/** `ip -batch -force` lines: the veth first (at once, both ends), then the namespace. */
export function deleteNetnsBatch(entries: readonly Pick<NetnsEntry, 'name' | 'veth'>[]): string {
  return lines(entries.flatMap((e) => [...(e.veth ? [`link del dev ${e.veth}`] : []), `netns del ${e.name}`]));
}

/** Run as root in a container's namespace before nft: lets eth0 traffic be sent on to loopback (see below). */
export const CONTAINER_SYSCTL_SCRIPT = 'echo 1 >/proc/sys/net/ipv4/conf/eth0/route_localnet && exec "$1" -f -';

/**
 * The nftables table inside a container's namespace: TCP connections the
 * host opens to the container's address go to its loopback, so that an app
 * listening on 127.0.0.1:$PORT is reached as one listening on 0.0.0.0 is
 * (as with the host network before). Only the host can open them.
 */
export function containerRuleset(): string {
  return lines([
    'table ip slipway {',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    iifname "eth0" meta l4proto tcp dnat to 127.0.0.1',
    '  }',
    '}',
  ]);
}

/**
 * The host's nftables table for one home, replaced as a whole (one `nft -f`
 * transaction). Containers' traffic to the host is refused but for replies
 * and the ports in `host_tcp_ports` (the router's); between containers, into
 * containers from anywhere but the host, and to link-local addresses (cloud
 * metadata) it is refused; the rest goes out, masqueraded.
 */
export function hostRuleset(names: NetworkNames, subnet: Subnet, ports: readonly number[]): string {
  const br = `"${names.bridge}"`;
  const elements = ports.length > 0 ? ` elements = { ${ports.join(', ')} };` : '';
  return lines([
    ...deleteTableScript(names),
    `table inet ${names.table} {`,
    `  set host_tcp_ports { type inet_service;${elements} }`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname ${br} jump from_containers`,
    '  }',
    '  chain from_containers {',
    '    ct state established,related accept',
    '    meta l4proto tcp tcp dport @host_tcp_ports accept',
    '    meta l4proto tcp reject with tcp reset',
    '    reject with icmpx admin-prohibited',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    oifname ${br} ct state established,related accept`,
    `    oifname ${br} reject with icmpx admin-prohibited`,
    `    iifname ${br} meta nfproto ipv6 reject with icmpx admin-prohibited`,
    `    iifname ${br} ip daddr 169.254.0.0/16 reject with icmpx admin-prohibited`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${subnetText(subnet)} oifname != ${br} masquerade`,
    '  }',
    '}',
  ]);
}

/** Deletes the table if it exists (nft 1.0.6 has no `destroy`: adding an existing table is a no-op). */
export function deleteTableScript(names: Pick<NetworkNames, 'table'>): string[] {
  return [`table inet ${names.table} {}`, `delete table inet ${names.table}`];
}

export function allowPortsScript(names: NetworkNames, ports: readonly number[]): string {
  return lines([`add element inet ${names.table} host_tcp_ports { ${ports.join(', ')} }`]);
}

function lines(list: readonly string[]): string {
  return `${list.join('\n')}\n`;
}

/** A route of the host's main table, from /proc/net/route. */
export interface HostRoute {
  readonly iface: string;
  readonly subnet: Subnet;
}

/** /proc/net/route: addresses and masks are little-endian hex. */
export function parseProcNetRoute(text: string): HostRoute[] {
  const routes: HostRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [iface, destination, , , , , , mask] = fields;
    if (iface === undefined || destination === undefined || mask === undefined) continue;
    const network = littleEndianHex(destination);
    const maskValue = littleEndianHex(mask);
    if (network === null || maskValue === null) continue;
    routes.push({ iface, subnet: { network, prefix: popcount(maskValue) } });
  }
  return routes;
}

function littleEndianHex(hex: string): number | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return null;
  const value = Number.parseInt(hex, 16);
  return (((value & 255) << 24) | (((value >>> 8) & 255) << 16) | (((value >>> 16) & 255) << 8) | (value >>> 24)) >>> 0;
}

function popcount(value: number): number {
  let count = 0;
  for (let v = value; v !== 0; v >>>= 1) count += v & 1;
  return count;
}

/** The `nameserver` addresses of a resolv.conf, in order. */
export function parseNameservers(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match?.[1]) servers.push(match[1]);
  }
  return servers;
}

/** 127.0.0.0/8 and ::1: a resolver there is the host's own, out of a container's reach. */
export function isLoopbackAddress(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}
