// The machines of a test swarm (test/helpers/swarm-cluster.ts): one network
// namespace per node plus a "switch" namespace holding the bridge, their
// links and addresses, killing everything a node runs as a lost machine
// would lose it, and sweeping what a crashed run left behind.
//
// Names carry the cluster's id (6 hex digits): namespaces `swc-<id>-n1`,
// `swc-<id>-sw`, the host's end of its link `swc<id>`, the data directory
// `$TMPDIR/slipway-swarm-<id>` whose `owner` file holds the test process's
// pid, and the nodes' cgroup parents `/swc-<id>-n1`. A cluster whose owner is
// gone is a leftover: `sweepSwarmClusters` removes it.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HELPER_ENV, runChecked } from '../../src/exec/index.ts';
import {
  candidateSubnets,
  intToIp,
  ipToInt,
  parseProcNetRoute,
  pickSubnet,
} from '../../src/runtime/sandbox/network-plan.ts';
import { delay } from './wait.ts';

export const CLUSTER_DIR_PREFIX = 'slipway-swarm-';
const NETNS = /^swc-([0-9a-f]{6})-(n\d|sw)$/;
const CLUSTER_DIR = /^slipway-swarm-([0-9a-f]{6})$/;

/** Where the clusters' addresses come from: shared address space (RFC 6598), which neither Docker's default pools (172.17/16.., 10/8 for overlays) nor the sandbox (10.192/10) use. */
const POOL = { network: ipToInt('100.64.0.0'), prefix: 10 };

export interface ClusterNames {
  readonly id: string;
  readonly dir: string;
  readonly switchNetns: string;
  readonly hostLink: string;
  netns(node: string): string;
  cgroupParent(node: string): string;
}

export function clusterNames(id: string): ClusterNames {
  return {
    id,
    dir: path.join(tmpdir(), `${CLUSTER_DIR_PREFIX}${id}`),
    switchNetns: `swc-${id}-sw`,
    hostLink: `swc${id}`,
    netns: (node) => `swc-${id}-${node}`,
    cgroupParent: (node) => `/swc-${id}-${node}`,
  };
}

async function ip(args: readonly string[], script: string): Promise<void> {
  await runChecked(['ip', ...args, '-batch', '-'], {
    env: HELPER_ENV,
    stdin: Readable.from([script]),
    timeoutMs: 10_000,
  });
}

/** A /24 of the pool that no route of the host overlaps, as `a.b.c` (the host is .1, node i is .(10+i)). */
export function pickClusterSubnet(id: string): string {
  const routes = parseProcNetRoute(readFileSync('/proc/net/route', 'utf8')).map((route) => route.subnet);
  const subnet = pickSubnet(candidateSubnets(id.padEnd(8, '0'), POOL, 24), routes, []);
  if (subnet === null) throw new Error('no free /24 in 100.64.0.0/10 for the test swarm');
  return intToIp(subnet.network).split('.').slice(0, 3).join('.');
}

/**
 * The host's link into the switch namespace, whose bridge joins one link per
 * node. The bridge lives in a namespace of its own so that node-to-node
 * traffic never crosses the host's FORWARD chain (Docker sets its policy to
 * DROP, and bridged frames pass it when br_netfilter is loaded).
 */
export async function createNetwork(names: ClusterNames, subnet: string, nodes: readonly string[]): Promise<void> {
  const sw = names.switchNetns;
  await ip([], [sw, ...nodes.map(names.netns)].map((ns) => `netns add ${ns}\n`).join(''));
  await ip(
    [],
    `link add name ${names.hostLink} type veth peer name up netns ${sw}\n` +
      `addr add ${subnet}.1/24 dev ${names.hostLink}\nlink set dev ${names.hostLink} up\n`,
  );
  await ip(
    ['-n', sw],
    'link set dev lo up\nlink add name br type bridge\nlink set dev br up\nlink set dev up master br up\n' +
      nodes
        .map(
          (node) =>
            `link add name ${node} type veth peer name eth0 netns ${names.netns(node)}\nlink set dev ${node} master br up\n`,
        )
        .join(''),
  );
  for (const [i, node] of nodes.entries()) {
    await ip(
      ['-n', names.netns(node)],
      `link set dev lo up\naddr add ${subnet}.${11 + i}/24 dev eth0\nlink set dev eth0 up\n`,
    );
  }
}

/** Every process in the node's namespace (dockerd, containerd, the shims) and their descendants (the containers). */
export async function nodeProcesses(netns: string): Promise<number[]> {
  if (!existsSync(`/run/netns/${netns}`)) return [];
  const roots = (await runChecked(['ip', 'netns', 'pids', netns], { env: HELPER_ENV, timeoutMs: 10_000 }))
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: the comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/** SIGKILL to every process of the node at once (a power cut), then waits until they are gone. */
export async function killNodeProcesses(netns: string): Promise<void> {
  const pids = await nodeProcesses(netns);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => !isZombie(pid))) {
    if (Date.now() > deadline) throw new Error(`processes of ${netns} still running after SIGKILL`);
    await delay(50);
  }
}

function isZombie(pid: number): boolean {
  return processState(pid)?.state !== 'running';
}

/**
 * A process's state and start time (clock ticks after boot), or null when it
 * is gone: with the start time a test tells a process from a later one that
 * got the same pid.
 */
export function processState(pid: number): { state: 'running' | 'zombie'; started: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: the comm may hold spaces and parentheses; starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] === 'Z' ? 'zombie' : 'running', started: fields[19] ?? '' };
  } catch {
    return null;
  }
}

/**
 * The data directory, on a tmpfs of its own: removing a node's image layers
 * file by file takes ~20 s per node on this machine's disk, unmounting no
 * time. The nodes hold one copy of each loaded image (~250 MB for the stack
 * image) and the saved archive: about 1 GB for three nodes, in memory.
 */
export async function createClusterDir(names: ClusterNames): Promise<void> {
  mkdirSync(names.dir, { recursive: true });
  await runChecked(['mount', '-t', 'tmpfs', '-o', 'size=4g,mode=0700', 'slipway-swarm', names.dir], {
    env: HELPER_ENV,
  });
  writeFileSync(path.join(names.dir, 'owner'), String(process.pid));
}

/** Kills every node, removes namespaces (their links go with them), cgroups and the data directory. */
export async function removeCluster(names: ClusterNames): Promise<void> {
  const namespaces = existsSync('/run/netns')
    ? readdirSync('/run/netns').filter((ns) => ns.startsWith(`swc-${names.id}-`))
    : [];
  for (const ns of namespaces) await killNodeProcesses(ns);
  for (const ns of namespaces) await runChecked(['ip', 'netns', 'del', ns], { env: HELPER_ENV }).catch(() => {});
  // Normally gone with its peer in the switch namespace.
  await runChecked(['ip', 'link', 'del', 'dev', names.hostLink], { env: HELPER_ENV }).catch(() => {});
  removeCgroups(`swc-${names.id}-`);
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${names.dir} `))
    await runChecked(['umount', '--lazy', names.dir], { env: HELPER_ENV });
  rmSync(names.dir, { recursive: true, force: true });
}

/** The nodes' cgroup parents in every hierarchy (v1 per controller, or the v2 root), deepest first. */
function removeCgroups(prefix: string): void {
  const root = '/sys/fs/cgroup';
  if (!existsSync(root)) return;
  const hierarchies = [root, ...readdirSync(root).map((entry) => path.join(root, entry))];
  for (const hierarchy of hierarchies) {
    let entries: string[];
    try {
      entries = readdirSync(hierarchy).filter((entry) => entry.startsWith(prefix));
    } catch {
      continue;
    }
    for (const entry of entries) removeCgroupTree(path.join(hierarchy, entry));
  }
}

function removeCgroupTree(dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeCgroupTree(path.join(dir, entry.name));
    }
    rmdirSync(dir); // a cgroup's control files go with it
  } catch {
    // not a cgroup we can remove (still has processes); left for the next sweep
  }
}

/** The ids of clusters with something left on this machine, and whether their owner process still runs. */
export function clustersOnMachine(): Map<string, boolean> {
  const ids = new Set<string>();
  if (existsSync('/run/netns')) {
    for (const ns of readdirSync('/run/netns')) {
      const id = NETNS.exec(ns)?.[1];
      if (id !== undefined) ids.add(id);
    }
  }
  for (const entry of readdirSync(tmpdir())) {
    const id = CLUSTER_DIR.exec(entry)?.[1];
    if (id !== undefined) ids.add(id);
  }
  return new Map([...ids].map((id) => [id, ownerAlive(clusterNames(id))]));
}

function ownerAlive(names: ClusterNames): boolean {
  try {
    const pid = Number(readFileSync(path.join(names.dir, 'owner'), 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes every cluster whose owner process is gone (a crashed or killed test run); running ones are left alone. */
export async function sweepSwarmClusters(): Promise<string[]> {
  const swept: string[] = [];
  for (const [id, alive] of clustersOnMachine()) {
    if (alive) continue;
    await removeCluster(clusterNames(id));
    swept.push(id);
  }
  return swept;
}
