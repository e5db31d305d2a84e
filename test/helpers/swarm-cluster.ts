// A Docker Swarm of 2 or 3 machines on this one host, for multi-node tests.
//
// Layout (names from swarm-netns.ts, `<id>` = 6 random hex digits):
//
//   host ── swc<id> (a.b.c.1/24) ══ veth ══ [netns swc-<id>-sw: bridge br]
//                                              ├─ veth ══ [netns swc-<id>-n1: eth0 a.b.c.11, dockerd]
//                                              ├─ veth ══ [netns swc-<id>-n2: eth0 a.b.c.12, dockerd]
//                                              └─ veth ══ [netns swc-<id>-n3: eth0 a.b.c.13, dockerd]
//
//   $TMPDIR/slipway-swarm-<id>/owner          the test process's pid (a dead owner marks leftovers)
//                             /images/*.tar   `docker save` of the host's image, loaded on each node
//                             /nX/{data,exec,docker.sock,docker.pid,daemon.json}
//
// a.b.c is a free /24 of 100.64.0.0/10. Each node's dockerd runs in its own
// network namespace (nsenter, not `ip netns exec`, which remounts /sys and
// hides the cgroup mounts dockerd needs), in a private mount namespace with
// its own tmpfs on /run/containerd (the shims' sockets vanish with the node),
// with its own hostname (nX: `docker node ls` and task placements name the
// nodes), its own data/exec roots, socket and cgroup parent. The namespaces
// have no route out: image pulls fail at once, and the images are loaded.
// With 3 nodes all are managers, so the swarm keeps its raft quorum (2 of 3)
// when any one node is lost; with 2 nodes, n1 manages and n2 works (two
// managers would lose quorum with either one). The dispatcher heartbeat is 1 s
// (default 5 s), so a lost node is marked down within a few seconds.
//
// `stopNode` is a power cut: SIGKILL to every process in the node's
// namespace (dockerd, containerd, shims) and their descendants (the
// containers); Swarm marks it down once heartbeats stop and reschedules its
// tasks. `startNode` boots its dockerd again on the same data: it rejoins as
// the same node. `close` removes everything; a run that crashed before its
// close is swept by the next cluster's start (its owner pid is gone).

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HELPER_ENV, type ProcessHandle, runChecked, spawnProcess } from '../../src/exec/index.ts';
import { createEngine, probeEngine } from '../../src/runtime/docker/index.ts';
import {
  type ClusterNames,
  clusterNames,
  createClusterDir,
  createNetwork,
  killNodeProcesses,
  pickClusterSubnet,
  removeCluster,
  sweepSwarmClusters,
} from './swarm-netns.ts';
import { waitFor } from './wait.ts';

export interface SwarmClusterOptions {
  /** 2 or 3 machines (default 3). */
  readonly nodes?: 2 | 3;
  /** Images of the host's dockerd to load on every node. */
  readonly images?: readonly string[];
}

export interface NodeState {
  readonly id: string;
  /** ready, down, unknown. */
  readonly status: string;
  /** Leader, Reachable, Unreachable, or '' for a worker. */
  readonly manager: string;
}

export interface SwarmCluster {
  readonly id: string;
  readonly nodes: readonly string[];
  /** The host's address on the cluster's network. */
  readonly hostAddress: string;
  /** How long the start took: the whole (ms), and each image's load per node. */
  readonly timings: { readonly startMs: number; readonly imageLoadMs: Record<string, Record<string, number>> };
  address(node: string): string;
  dockerSocket(node: string): string;
  /** The docker CLI against one node; its stdout, or an error with its stderr. */
  docker(node: string, args: readonly string[], timeoutMs?: number): Promise<string>;
  /** The nodes as Swarm sees them, asked of a running manager, by name (n1..). */
  nodeStates(): Promise<Record<string, NodeState>>;
  /** A running manager to send commands to, other than `except`. */
  manager(except?: string): string;
  running(node: string): boolean;
  /** Waits until Swarm reports the node `ready` or `down`. */
  waitForStatus(node: string, status: string, timeoutMs: number): Promise<void>;
  stopNode(node: string): Promise<void>;
  startNode(node: string): Promise<void>;
  close(): Promise<void>;
}

const NODE_SCRIPT =
  'set -e; mkdir -p /run/containerd; mount -t tmpfs -o mode=0711 swarm-node /run/containerd; hostname "$1"; shift; exec "$@"';

/** Why a cluster cannot run here, or null. */
export async function swarmClusterSkipReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'the test swarm needs root (network namespaces, dockerd)';
  for (const tool of ['dockerd', 'docker', 'ip', 'nsenter', 'unshare']) {
    try {
      await runChecked(['sh', '-c', 'command -v "$1"', 'probe', tool], { env: HELPER_ENV });
    } catch {
      return `the test swarm needs ${tool}`;
    }
  }
  const probe = `swc-probe${process.pid}`;
  try {
    await runChecked(['ip', 'netns', 'add', probe], { env: HELPER_ENV });
    await runChecked(['ip', 'netns', 'del', probe], { env: HELPER_ENV });
  } catch (err) {
    return `the test swarm needs network namespaces: ${(err as Error).message}`;
  }
  return null;
}

export async function startSwarmCluster(options: SwarmClusterOptions = {}): Promise<SwarmCluster> {
  const started = Date.now();
  await sweepSwarmClusters();
  const names = clusterNames(randomBytes(3).toString('hex'));
  const nodes = Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`);
  const cluster = new Cluster(names, pickClusterSubnet(names.id), nodes);
  try {
    await createClusterDir(names);
    await createNetwork(names, cluster.subnet, nodes);
    await Promise.all(nodes.map((node) => cluster.startNode(node, false)));
    await cluster.formSwarm();
    const imageLoadMs: Record<string, Record<string, number>> = {};
    for (const image of options.images ?? []) imageLoadMs[image] = await cluster.loadImage(image);
    cluster.timings = { startMs: Date.now() - started, imageLoadMs };
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

class Cluster implements SwarmCluster {
  timings: SwarmCluster['timings'] = { startMs: 0, imageLoadMs: {} };
  private readonly daemons = new Map<string, { handle: ProcessHandle; log: string[] }>();
  private closed = false;

  constructor(
    private readonly names: ClusterNames,
    readonly subnet: string,
    readonly nodes: readonly string[],
  ) {}

  get id(): string {
    return this.names.id;
  }

  get hostAddress(): string {
    return `${this.subnet}.1`;
  }

  address(node: string): string {
    return `${this.subnet}.${11 + this.index(node)}`;
  }

  dockerSocket(node: string): string {
    return path.join(this.dir(node), 'docker.sock');
  }

  async docker(node: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
    const env = { ...HELPER_ENV, DOCKER_CONFIG: path.join(this.names.dir, 'cli') };
    return runChecked(['docker', '-H', `unix://${this.dockerSocket(node)}`, ...args], { env, timeoutMs });
  }

  async nodeStates(): Promise<Record<string, NodeState>> {
    // Short: a manager asked during a leader election waits for one (~10 s and more).
    const format = '{{.Hostname}} {{.ID}} {{.Status}} {{.ManagerStatus}}';
    const lines = await this.docker(this.manager(), ['node', 'ls', '--format', format], 5000);
    const states: Record<string, NodeState> = {};
    for (const line of lines.split('\n').filter(Boolean)) {
      const [name = '', id = '', status = '', manager = ''] = line.split(' ');
      states[name] = { id, status: status.toLowerCase(), manager };
    }
    return states;
  }

  manager(except?: string): string {
    const managers = this.nodes.length === 3 ? this.nodes : this.nodes.slice(0, 1);
    const found = managers.find((node) => node !== except && this.running(node));
    if (found === undefined) throw new Error('no running manager left in the test swarm');
    return found;
  }

  running(node: string): boolean {
    return this.daemons.has(node);
  }

  async startNode(node: string, rejoin = true): Promise<void> {
    this.index(node);
    if (this.running(node)) return;
    const dir = this.dir(node);
    mkdirSync(dir, { recursive: true });
    // Never the host's /etc/docker/daemon.json; what docs/scale-out.md asks of every node: containers on
    // the default bridge kept from one another.
    writeFileSync(path.join(dir, 'daemon.json'), '{ "icc": false }\n');
    const log: string[] = [];
    const handle = spawnProcess(
      [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--uts',
        'nsenter',
        `--net=/run/netns/${this.names.netns(node)}`,
        '/bin/sh',
        '-c',
        NODE_SCRIPT,
        'swarm-node',
        node,
        'dockerd',
        `--config-file=${path.join(dir, 'daemon.json')}`,
        `--data-root=${path.join(dir, 'data')}`,
        `--exec-root=${path.join(dir, 'exec')}`,
        `--pidfile=${path.join(dir, 'docker.pid')}`,
        `--host=unix://${this.dockerSocket(node)}`,
        `--cgroup-parent=${this.names.cgroupParent(node)}`,
        '--log-level=warn',
      ],
      {
        // Tasks use the images loaded on the node instead of asking a registry first.
        env: { ...HELPER_ENV, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
        onLine: (_stream, line) => {
          log.push(line);
          if (log.length > 40) log.shift();
        },
      },
    );
    this.daemons.set(node, { handle, log });
    const engine = createEngine(this.dockerSocket(node));
    let exited = false;
    void handle.exited.then(() => {
      exited = true;
    });
    try {
      await waitFor(async () => exited || (await probeEngine(engine)) === null, `dockerd of ${node}`, 30_000, 100);
      if (exited) throw new Error(`dockerd of ${node} exited:\n${log.join('\n')}`);
      if (rejoin) await this.waitForStatus(node, 'ready', 60_000);
    } catch (err) {
      await this.stopNode(node);
      throw err;
    }
  }

  async stopNode(node: string): Promise<void> {
    const daemon = this.daemons.get(node);
    await killNodeProcesses(this.names.netns(node));
    await daemon?.handle.stop(0);
    this.daemons.delete(node);
  }

  async waitForStatus(node: string, status: string, timeoutMs: number): Promise<void> {
    await waitFor(
      // Managers refuse to answer while they elect a leader: asked again.
      async () => (await this.nodeStates().catch(() => ({}) as Record<string, NodeState>))[node]?.status === status,
      `${node} ${status} in the swarm`,
      timeoutMs,
      200,
    );
  }

  /** n1 initialises; the others join one after the other (raft adds one member at a time). */
  async formSwarm(): Promise<void> {
    const [first, ...others] = this.nodes as [string, ...string[]];
    const listen = (node: string) => [
      '--advertise-addr',
      this.address(node),
      '--listen-addr',
      `${this.address(node)}:2377`,
    ];
    await this.docker(first, ['swarm', 'init', ...listen(first), '--dispatcher-heartbeat', '1s']);
    const role = this.nodes.length === 3 ? 'manager' : 'worker';
    const token = await this.docker(first, ['swarm', 'join-token', '--quiet', role]);
    for (const node of others) {
      await this.docker(node, [
        'swarm',
        'join',
        '--token',
        token.trim(),
        ...listen(node),
        `${this.address(first)}:2377`,
      ]);
    }
    for (const node of this.nodes) await this.waitForStatus(node, 'ready', 30_000);
  }

  /** `docker save` once on the host, `docker load` on every node at the same time; ms per node. */
  async loadImage(image: string): Promise<Record<string, number>> {
    const tar = path.join(this.names.dir, 'images', `${image.replace(/[^A-Za-z0-9_.-]/g, '_')}.tar`);
    mkdirSync(path.dirname(tar), { recursive: true });
    await runChecked(['docker', 'save', '--output', tar, image], { env: HELPER_ENV, timeoutMs: 120_000 });
    const times: Record<string, number> = {};
    await Promise.all(
      this.nodes.map(async (node) => {
        const begun = Date.now();
        await this.docker(node, ['load', '--quiet', '--input', tar], 180_000);
        times[node] = Date.now() - begun;
      }),
    );
    return times;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const node of [...this.daemons.keys()]) await this.stopNode(node);
    await removeCluster(this.names);
  }

  private dir(node: string): string {
    return path.join(this.names.dir, node);
  }

  private index(node: string): number {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error(`no node ${node} in the test swarm (${this.nodes.join(', ')})`);
    return i;
  }
}
