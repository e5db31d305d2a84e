// The container network as data: names that fit the kernel's limits and
// never collide between homes, the home recorded on the bridge, the subnet a
// home gets (stable, clear of the host's routes and name servers), and the
// rules the host's nftables table holds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BRIDGE_NAME,
  bridgeBatch,
  candidateSubnets,
  contains,
  createNetnsBatch,
  deleteNetnsBatch,
  homeAlias,
  homeOfAlias,
  hostRuleset,
  insideNetnsBatch,
  intToIp,
  ipToInt,
  macOf,
  netnsEntry,
  networkNames,
  overlaps,
  parseNameservers,
  parseProcNetRoute,
  pickSubnet,
  SUBNET_POOL,
  subnetText,
} from '../../src/runtime/sandbox/network-plan.ts';

const subnet = (text: string) => {
  const [address = '', prefix = '32'] = text.split('/');
  return { network: ipToInt(address), prefix: Number(prefix) };
};

test('each home gets its own names, within the kernel’s 15-character interface names', () => {
  const a = networkNames('/var/lib/slipway');
  const b = networkNames('/tmp/slipway-test-x1');
  assert.notEqual(a.key, b.key);
  assert.deepEqual(networkNames('/var/lib/slipway'), a, 'the same home, the same names');
  assert.match(a.bridge, BRIDGE_NAME);
  assert.ok(a.bridge.length <= 15);
  assert.equal(a.table, `slipway_${a.key}`);
  const entry = netnsEntry(a, 'c0ffee123456', ipToInt('10.192.0.2'));
  assert.equal(entry.name, `slipway-${a.key}-c0ffee123456`);
  assert.ok(entry.veth.length <= 15, entry.veth);
});

test('the bridge’s alias records its home, unless the path is too long to keep whole', () => {
  assert.equal(homeOfAlias(homeAlias('/srv/slipway home') ?? ''), '/srv/slipway home');
  assert.equal(homeOfAlias('slipway home /x\n'), '/x', 'sysfs ends the alias with a newline');
  assert.equal(homeOfAlias('some other bridge'), null);
  assert.equal(homeAlias(`/${'x'.repeat(300)}`), null);
});

test('a home’s subnet: a /20 of 10.192.0.0/10, the same from one start to the next, clear of routes and name servers', () => {
  const key = networkNames('/var/lib/slipway').key;
  const candidates = candidateSubnets(key);
  assert.equal(candidates.length, 1024);
  assert.deepEqual(candidateSubnets(key), candidates);
  assert.ok(candidates.every((c) => c.prefix === 20 && overlaps(c, SUBNET_POOL)));
  assert.equal(new Set(candidates.map(subnetText)).size, 1024, 'every /20 once');
  const [first, second, third] = candidates;
  assert.ok(first && second && third);
  assert.deepEqual(pickSubnet(candidates, [subnet('0.0.0.0/0'), subnet('192.0.2.0/24')], []), first);
  // A route overlapping it (a VPN's /16, another home's bridge), or a name server inside it: the next one.
  const routed = subnet(`${intToIp(first.network)}/16`);
  const picked = pickSubnet(candidates, [routed], []);
  assert.ok(picked !== null && !overlaps(picked, routed));
  const resolver = second.network + 53;
  assert.deepEqual(pickSubnet(candidates.slice(1), [], [resolver]), third);
  assert.equal(contains(second, resolver), true);
  assert.equal(pickSubnet(candidates, [subnet('10.0.0.0/8')], []), null, 'nothing free');
});

test('the host’s routes and name servers are read as the kernel and resolv.conf write them', () => {
  const routes = parseProcNetRoute(
    [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'sw-abc\t0000FA0A\t00000000\t0001\t0\t0\t0\t00F0FFFF\t0\t0\t0',
    ].join('\n'),
  );
  assert.deepEqual(
    routes.map((r) => [r.iface, subnetText(r.subnet)]),
    [
      ['eth0', '0.0.0.0/0'],
      ['eth0', '192.0.2.0/24'],
      ['sw-abc', '10.250.0.0/20'],
    ],
  );
  assert.deepEqual(parseNameservers('# x\nnameserver 10.255.255.53\noptions edns0\n nameserver ::1\n'), [
    '10.255.255.53',
    '::1',
  ]);
});

test('a container’s MAC comes from its address, so a reused address never meets a stale neighbour entry', () => {
  assert.equal(macOf(ipToInt('10.201.0.3')), '02:53:0a:c9:00:03');
  assert.notEqual(macOf(ipToInt('10.201.0.3')), macOf(ipToInt('10.201.0.4')));
});

test('the bridge has a MAC of its own (from the gateway), so it never changes as ports come and go', () => {
  const names = networkNames('/h');
  const batch = bridgeBatch(names, subnet('10.201.0.0/20'), 1400).split('\n');
  assert.equal(batch[0], `link add name ${names.bridge} mtu 1400 address 02:53:0a:c9:00:01 type bridge`);
});

test('a namespace: eth0 in it, an isolated bridge port outside, an address and a default route via the bridge', () => {
  const names = networkNames('/h');
  const net = subnet('10.201.0.0/20');
  const entry = netnsEntry(names, 'aaaaaaaaaaaa', ipToInt('10.201.0.7'));
  const host = createNetnsBatch([entry], names.bridge, 1400).split('\n');
  assert.equal(host[0], `netns add ${entry.name}`);
  assert.ok(host.includes(`link set dev ${entry.veth} type bridge_slave isolated on`));
  assert.ok(
    host.some((line) => line.includes(`peer name eth0 address 02:53:0a:c9:00:07 mtu 1400 netns ${entry.name}`)),
  );
  const inside = insideNetnsBatch(entry, net).split('\n');
  assert.ok(inside.includes('addr add 10.201.0.7/20 dev eth0'));
  assert.ok(inside.includes('route add default via 10.201.0.1 dev eth0'));
  assert.deepEqual(deleteNetnsBatch([entry]).trim().split('\n'), [
    `link del dev ${entry.veth}`,
    `netns del ${entry.name}`,
  ]);
});

test('the host table: the router’s port in, nothing else of the host; out through NAT, but not to containers or link-local', () => {
  const names = networkNames('/h');
  const rules = hostRuleset(names, subnet('10.201.0.0/20'), [8080]);
  const br = `"${names.bridge}"`;
  assert.ok(rules.startsWith(`table inet ${names.table} {}\ndelete table inet ${names.table}\n`), 'replaced whole');
  assert.match(rules, /set host_tcp_ports \{ type inet_service; elements = \{ 8080 \}; \}/);
  assert.ok(rules.includes(`iifname ${br} jump from_containers`));
  assert.ok(rules.includes(`oifname ${br} reject with icmpx admin-prohibited`), 'no new connections into the bridge');
  assert.ok(rules.includes(`iifname ${br} ip daddr 169.254.0.0/16 reject`));
  assert.ok(rules.includes(`ip saddr 10.201.0.0/20 oifname != ${br} masquerade`));
  assert.match(hostRuleset(names, subnet('10.201.0.0/20'), []), /set host_tcp_ports \{ type inet_service; \}/);
});
