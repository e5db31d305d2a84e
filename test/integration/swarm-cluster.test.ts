// A real Docker Swarm of three machines made by the test (test/helpers/
// swarm-cluster.ts: one dockerd per network namespace), driven with plain
// `docker service` commands, to show what Slipway's swarm runtime can count
// on: replicas spread over the nodes and reachable at <node address>:<port>,
// and at their overlay addresses from one another (vxlan); a lost node's
// tasks rescheduled on the others while the rest keep answering, for a
// follower and for the leader (then with a raft election); a replicated job
// that runs once and reports its exit code, and what becomes of such a job
// when its node is lost mid-run. Timings go to the test's diagnostics. Traffic
// goes only to the namespaces the test made. Needs root, dockerd and the
// stack image; the run takes about 1.5 minutes.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, type TestContext, test } from 'node:test';
import { HELPER_ENV, runChecked, runProcess } from '../../src/exec/index.ts';
import { DEFAULT_STACK_IMAGE } from '../../src/runtime/docker/index.ts';
import { type SwarmCluster, startSwarmCluster, swarmClusterSkipReason } from '../helpers/swarm-cluster.ts';
import { clusterNames, nodeProcesses, processState } from '../helpers/swarm-netns.ts';
import { dockerSkipReason } from '../helpers/test-docker.ts';
import { delay, waitForValue } from '../helpers/wait.ts';

const skip = (await swarmClusterSkipReason()) ?? (await dockerSkipReason()) ?? false;

// Answers every request with the name of the node its task runs on.
const SERVER = "require('http').createServer((q, s) => s.end(process.env.NODE)).listen(8080)";
const ON_NODE = ['--env', 'NODE={{.Node.Hostname}}'];
// Asks every task of `web` by its overlay address, and prints the nodes that answered.
const PROBE = `require('dns').lookup('web', { all: true }, async (err, found) => {
  if (err) throw err;
  const seen = [];
  for (const { address } of found) seen.push(await (await fetch('http://' + address + ':8080/')).text());
  console.log(seen.sort().join(' '));
})`;
// A job run once: its task is never restarted, whatever its exit (as the postdeploy hook would be).
const JOB = ['--mode', 'replicated-job', '--restart-condition', 'none'];

interface Task {
  readonly id: string;
  readonly node: string;
  readonly state: string;
  /** What the orchestrator wants: running, or shutdown for a task it gave up (a lost node's). */
  readonly desired: string;
  readonly exitCode: number | undefined;
  readonly port: number | undefined;
}

interface InspectedTask {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: {
    State: string;
    ContainerStatus?: { ExitCode?: number };
    PortStatus?: { Ports?: { PublishedPort: number }[] };
  };
}

async function get(address: string, port: number): Promise<string> {
  const res = await fetch(`http://${address}:${port}/`, { signal: AbortSignal.timeout(2000) });
  if (res.status !== 200) throw new Error(`${address}:${port} answered ${res.status}`);
  return res.text();
}

describe('a swarm of three dockerd machines in network namespaces', { skip }, () => {
  let cluster: SwarmCluster;
  const cli = (args: readonly string[], except?: string) => cluster.docker(cluster.manager(except), args);
  /** A service of the stack image whose tasks know their node ($NODE). */
  const createService = (name: string, flags: readonly string[], command: readonly string[]) =>
    cli([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      name,
      ...ON_NODE,
      ...flags,
      DEFAULT_STACK_IMAGE,
      ...command,
    ]);

  /** Every task of the service (history included), with its node's name and its published port. */
  async function tasks(service: string, except?: string): Promise<Task[]> {
    const ids = (await cli(['service', 'ps', '--quiet', '--no-trunc', service], except)).split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    const inspected = JSON.parse(await cli(['inspect', ...ids], except)) as InspectedTask[];
    const byId = Object.fromEntries(Object.entries(await cluster.nodeStates()).map(([name, node]) => [node.id, name]));
    return inspected.map((task) => ({
      id: task.ID,
      node: byId[task.NodeID] ?? task.NodeID,
      state: task.Status.State,
      desired: task.DesiredState,
      exitCode: task.Status.ContainerStatus?.ExitCode,
      port: task.Status.PortStatus?.Ports?.[0]?.PublishedPort,
    }));
  }

  /** The running tasks once there are `count` of them, all answering on their node's address. */
  /** The running tasks once there are `count` of them that Swarm wants running, off `except`, all passing `check`. */
  async function settled(
    service: string,
    count: number,
    except?: string,
    check: (running: Task[]) => Promise<boolean> = async () => true,
    timeoutMs = 60_000,
  ): Promise<Task[]> {
    let seen: Task[] = [];
    try {
      return await waitForValue(
        async () => {
          // Managers refuse to answer while they elect a leader: asked again.
          seen = await tasks(service, except).catch(() => []);
          const running = seen.filter(
            (task) => task.desired === 'running' && task.state === 'running' && task.node !== except,
          );
          return running.length === count && (await check(running)) ? running : undefined;
        },
        `${count} running tasks of ${service}`,
        timeoutMs,
        250,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(seen)}`);
    }
  }

  /** The running tasks once there are `count` of them, each answering on its node's address and published port. */
  const answering = (service: string, count: number, except?: string) =>
    settled(service, count, except, async (running) => {
      const answers = await Promise.all(
        running.map((task) => get(cluster.address(task.node), task.port ?? 0).catch((err: Error) => err.message)),
      );
      return answers.every((answer, i) => answer === running[i]?.node);
    });

  /** The job's one task once it has ended (it fails the test if the job has more than one task). */
  const jobEnded = (service: string) =>
    waitForValue(
      async () => {
        const [task, ...more] = await tasks(service);
        assert.deepEqual(more, []);
        return task !== undefined && ['complete', 'failed', 'rejected'].includes(task.state) ? task : undefined;
      },
      `the job ${service} to end`,
      30_000,
      250,
    );

  before(async () => {
    cluster = await startSwarmCluster({ images: [DEFAULT_STACK_IMAGE] });
  });
  after(async () => {
    await cluster?.close();
  });

  test('the cluster starts: three ready managers, one leader, the image on every node', async (t) => {
    t.diagnostic(`cluster start (3 dockerd, swarm, image load): ${cluster.timings.startMs} ms`);
    t.diagnostic(`image load per node: ${JSON.stringify(cluster.timings.imageLoadMs[DEFAULT_STACK_IMAGE])}`);
    const states = await cluster.nodeStates();
    assert.deepEqual(
      cluster.nodes.map((node) => [node, states[node]?.status, states[node]?.manager !== '']),
      cluster.nodes.map((node) => [node, 'ready', true]),
    );
    assert.equal(Object.values(states).filter((node) => node.manager === 'Leader').length, 1);
    for (const node of cluster.nodes) {
      const id = await cluster.docker(node, ['image', 'inspect', '--format', '{{.Id}}', DEFAULT_STACK_IMAGE]);
      assert.match(id, /^sha256:/, node);
    }
  });

  test('a dnsrr service with 3 replicas spreads over the nodes, each answering on its node address', async () => {
    await cli(['network', 'create', '--driver', 'overlay', '--attachable', 'apps']);
    await createService(
      'web',
      [
        '--replicas',
        '3',
        '--endpoint-mode',
        'dnsrr',
        // A port of the node per task: a fixed published port would keep a rescheduled
        // task pending, its port being taken on every surviving node.
        '--publish',
        'mode=host,target=8080',
        '--restart-delay',
        '0s',
        '--network',
        'apps',
      ],
      ['node', '-e', SERVER],
    );
    const running = await answering('web', 3);
    assert.deepEqual(running.map((task) => task.node).sort(), cluster.nodes);
    // Nothing answers on the host's own address: the ports are the nodes'.
    await assert.rejects(get(cluster.hostAddress, running[0]?.port ?? 0));
  });

  test('tasks reach each other across nodes on an overlay network (vxlan)', async () => {
    const running = await answering('web', 3);
    const [first] = running;
    assert.ok(first !== undefined);
    // From a task on one node, every replica by its overlay address (dnsrr: one DNS record per task).
    await createService(
      'probe',
      [...JOB, '--network', 'apps', '--constraint', `node.hostname==${first.node}`],
      ['node', '-e', PROBE],
    );
    const probe = await jobEnded('probe');
    const logs = await cli(['service', 'logs', '--raw', 'probe']);
    assert.deepEqual([probe.state, logs.trim()], ['complete', [...cluster.nodes].sort().join(' ')]);
  });

  test("docs/scale-out.md's node set-up: tasks apart on the default bridge, published ports for the Slipway host only", async (t) => {
    const [n1, n2] = cluster.nodes as [string, string];
    // As the swarm runtime makes a web: no network named (the node's default bridge), a host-mode port.
    await createService(
      'plain',
      ['--endpoint-mode', 'dnsrr', '--publish', 'mode=host,target=8080', '--constraint', `node.hostname==${n1}`],
      ['node', '-e', SERVER],
    );
    const [web] = await answering('plain', 1);
    assert.ok(web?.port !== undefined);
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    assert.ok(web.port >= (low ?? 0) && web.port <= (high ?? 0), `port ${web.port} in ${low}-${high}`);
    const container = await cluster.docker(n1, [
      'ps',
      '--quiet',
      '--filter',
      'label=com.docker.swarm.service.name=plain',
    ]);
    const onBridge = (
      await cluster.docker(n1, ['inspect', '--format', '{{.NetworkSettings.Networks.bridge.IPAddress}}', container])
    ).trim();
    assert.match(onBridge, /^\d+\.\d+\.\d+\.\d+$/);
    let probes = 0;
    /** What a task on `node`, made as the swarm runtime makes one, gets connecting to address:port. */
    const probe = async (node: string, address: string, port: number) => {
      const name = `reach-${++probes}`;
      const script = `const s = require('net').connect(${port}, '${address}'); const say = (w) => { console.log(w); process.exit(0); };
        s.on('connect', () => say('reached')); s.on('error', (e) => say('blocked ' + e.code)); s.setTimeout(2000, () => say('blocked'));`;
      await createService(name, [...JOB, '--constraint', `node.hostname==${node}`], ['node', '-e', script]);
      await jobEnded(name);
      return (await cli(['service', 'logs', '--raw', name])).trim().split(' ')[0];
    };
    // "icc": false: another task on the same bridge does not reach it.
    assert.equal(await probe(n1, onBridge, 8080), 'blocked');
    // The published port, from a task on another node and on its own node: open until the rules.
    const published = async () => [
      await probe(n2, cluster.address(n1), web.port ?? 0),
      await probe(n1, cluster.address(n1), web.port ?? 0),
    ];
    const before = await published();
    t.diagnostic(`published port without the rules, from ${n2} and from ${n1} itself: ${before.join(', ')}`);
    assert.deepEqual(before, ['reached', 'reached']);
    const rules = [
      ['INPUT', '-i', 'docker0', '-j', 'DROP'],
      [
        'DOCKER-USER',
        '-p',
        'tcp',
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '--ctorigdstport',
        `${low}:${high}`,
        '!',
        '-s',
        cluster.hostAddress,
        '-j',
        'DROP',
      ],
    ];
    const iptables = (node: string, op: string, rule: readonly string[]) =>
      runChecked(['ip', 'netns', 'exec', clusterNames(cluster.id).netns(node), 'iptables', op, ...rule], {
        env: HELPER_ENV,
      });
    for (const node of cluster.nodes) for (const rule of rules) await iptables(node, '-I', rule);
    try {
      const after = await published();
      t.diagnostic(`with the rules: ${after.join(', ')}`);
      assert.deepEqual(after, ['blocked', 'blocked']);
      // The Slipway host (the router) still reaches it.
      assert.equal(await get(cluster.address(n1), web.port), n1);
    } finally {
      for (const node of cluster.nodes) for (const rule of rules) await iptables(node, '-D', rule);
      await cli(['service', 'rm', 'plain']);
    }
  });

  /**
   * Stops `victim` while requests go to the tasks on the other nodes; returns
   * once the service has 3 answering tasks again, none on the victim. With
   * `othersKept`, the tasks on the other nodes must be the same ones after.
   */
  async function loseNode(
    victim: string,
    t: TestContext,
    othersKept: boolean,
  ): Promise<{ rescheduleMs: number; after: Task[] }> {
    const healthy = (await answering('web', 3)).filter((task) => task.node !== victim);
    assert.ok(healthy.length > 0 && healthy.length < 3, `${3 - healthy.length} of 3 tasks on ${victim}`);
    let requests = 0;
    const failures: { id: string; error: string }[] = [];
    let looping = true;
    const loop = (async () => {
      while (looping) {
        for (const task of healthy) {
          requests++;
          await get(cluster.address(task.node), task.port ?? 0).then(
            (body) => body === task.node || failures.push({ id: task.id, error: `${task.node}: ${body}` }),
            (err: Error) => failures.push({ id: task.id, error: `${task.node}: ${err.message}` }),
          );
        }
        await delay(20);
      }
    })();
    const stopped = Date.now();
    let downMs: number;
    let after: Task[];
    try {
      await cluster.stopNode(victim);
      // Bounds, not figures (those are asserted by the callers): a leader's loss under CI's load
      // has taken over 60 s to be seen.
      await cluster.waitForStatus(victim, 'down', 120_000);
      downMs = Date.now() - stopped;
      after = await settled('web', 3, victim, undefined, 120_000);
    } finally {
      looping = false;
      await loop;
    }
    const rescheduleMs = Date.now() - stopped;
    t.diagnostic(`${victim} marked down after ${downMs} ms; its tasks running elsewhere after ${rescheduleMs} ms`);
    t.diagnostic(`${requests} requests to the tasks on the other nodes meanwhile, ${failures.length} failed`);
    assert.ok(requests > 20, `only ${requests} requests`);
    assert.ok(after.every((task) => task.node !== victim));
    const replaced = healthy.filter((task) => !after.some((a) => a.id === task.id));
    t.diagnostic(`tasks on the other nodes replaced: ${replaced.map((task) => task.node).join(' ') || 'none'}`);
    if (othersKept) assert.deepEqual(replaced, []);
    // A task Swarm itself replaced may refuse while it stops; every other one answered every time.
    const kept = failures.filter((failure) => !replaced.some((task) => task.id === failure.id));
    assert.deepEqual(
      kept.map((failure) => failure.error),
      [],
    );
    return { rescheduleMs, after };
  }

  test("a lost node's tasks move to the others while the rest keep answering", async (t) => {
    const states = await cluster.nodeStates();
    // A manager that is not the leader (the leader's loss, with its election, is the last test).
    const victim = cluster.nodes.find((node) => states[node]?.manager === 'Reachable') ?? 'n3';
    const { rescheduleMs } = await loseNode(victim, t, true);
    assert.ok(rescheduleMs < 30_000, `rescheduled after ${rescheduleMs} ms`);
    const after = await answering('web', 3, victim);

    const restarting = Date.now();
    await cluster.startNode(victim);
    t.diagnostic(`${victim} ready again after ${Date.now() - restarting} ms`);
    // The lost task is not revived, nor does Swarm move a task back: still three.
    const settled = await answering('web', 3);
    assert.deepEqual(settled.map((task) => task.id).sort(), after.map((task) => task.id).sort());
  });

  test('a replicated job runs exactly once on a node Swarm picks; its exit code is on the task', async () => {
    await createService('once', JOB, ['sh', '-c', 'echo "job ran on $NODE"; exit 3']);
    const task = await jobEnded('once');
    await delay(2000); // a retry, were there one, would show by now
    const all = await tasks('once');
    assert.equal(all.length, 1, JSON.stringify(all));
    assert.equal(task.state, 'failed');
    assert.equal(task.exitCode, 3);
    assert.ok(cluster.nodes.includes(task.node ?? ''), task.node);
    const logs = await cli(['service', 'logs', '--raw', 'once']);
    assert.deepEqual(logs.split('\n').filter(Boolean), [`job ran on ${task.node}`]);
  });

  test('a job whose node is lost mid-run is neither rescheduled nor finished until the node returns', async (t) => {
    const leader = Object.entries(await cluster.nodeStates()).find(([, node]) => node.manager === 'Leader')?.[0];
    await createService(
      'hook',
      [
        ...JOB,
        // Off the leader, so that losing its node does not also cost a raft election.
        '--constraint',
        `node.hostname!=${leader}`,
      ],
      ['sh', '-c', 'echo "started on $NODE"; sleep 60; echo finished'],
    );
    const running = await waitForValue(
      async () => (await tasks('hook')).find((task) => task.state === 'running'),
      'the job running',
      30_000,
      250,
    );
    const lost = running.node;
    const stopped = Date.now();
    await cluster.stopNode(lost);
    await cluster.waitForStatus(lost, 'down', 30_000);
    t.diagnostic(`job's node ${lost} marked down after ${Date.now() - stopped} ms`);
    // Watched for a while after the node is down: the one task stays as last reported.
    for (let i = 0; i < 6; i++) {
      const all = await tasks('hook', lost);
      assert.deepEqual(
        all.map((task) => [task.id, task.node, task.state]),
        [[running.id, lost, 'running']],
      );
      await delay(1000);
    }
    const restarting = Date.now();
    await cluster.startNode(lost);
    const ended = await jobEnded('hook');
    t.diagnostic(
      `after ${lost} returned (${Date.now() - restarting} ms): the job's task ${ended.state}, exit code ${ended.exitCode}`,
    );
    assert.equal(ended.id, running.id);
    assert.equal(ended.state, 'failed');
    const logs = (await cli(['service', 'logs', '--raw', 'hook'])).split('\n').filter(Boolean);
    assert.deepEqual(logs, [`started on ${lost}`]);
  });

  test('the leader lost: the two other managers elect a new one and reschedule its tasks', async (t) => {
    const leaderOf = async () =>
      Object.entries(await cluster.nodeStates()).find(([, n]) => n.manager === 'Leader')?.[0];
    // Every manager ready and reachable first: a node back from the tests before may still be
    // catching up, and losing the leader then leaves no quorum until it has.
    await waitForValue(
      async () => {
        const states = Object.values(await cluster.nodeStates().catch(() => ({})));
        return states.length === cluster.nodes.length &&
          states.every((n) => n.status === 'ready' && ['Leader', 'Reachable'].includes(n.manager))
          ? true
          : undefined;
      },
      'every manager ready and reachable',
      60_000,
      250,
    );
    await delay(2000);
    const leader = await leaderOf();
    assert.ok(leader !== undefined);
    // Not asserted here: that the other nodes keep their tasks. A new leader starts with every
    // node's state unknown; on a slow machine (CI: 13 s to mark the old leader down) it may give
    // up on a live node's heartbeat and replace that node's task too. Requests still never fail.
    const { rescheduleMs } = await loseNode(leader, t, false);
    assert.ok(rescheduleMs < 120_000, `rescheduled after ${rescheduleMs} ms`);
    const elected = await leaderOf();
    assert.ok(elected !== undefined && elected !== leader, String(elected));
    // Seen here: a task rescheduled by the new leader may run with its port published on the
    // node while its task status lists no port. The node's own container is the truth.
    let missing = 0;
    for (const task of await settled('web', 3, leader)) {
      const filter = `label=com.docker.swarm.task.id=${task.id}`;
      const ports = await cluster.docker(task.node, ['ps', '--filter', filter, '--format', '{{.Ports}}']);
      const published = Number(/:(\d+)->8080/.exec(ports)?.[1]);
      if (task.port === undefined) missing++;
      else assert.equal(task.port, published);
      assert.equal(await get(cluster.address(task.node), published), task.node);
    }
    t.diagnostic(`tasks whose status lists no published port: ${missing} of 3`);
  });

  test('close leaves no namespace, link, dockerd, cgroup or data directory behind', async (t) => {
    const names = clusterNames(cluster.id);
    const pids = (await Promise.all(cluster.nodes.map((node) => nodeProcesses(names.netns(node))))).flat();
    // dockerd, containerd and shims of the running nodes (the last test left one down).
    assert.ok(pids.length >= 6, `dockerd, containerd and shims: ${pids}`);
    const started = new Map(pids.map((pid) => [pid, processState(pid)?.started]));
    const closing = Date.now();
    await cluster.close();
    t.diagnostic(`close: ${Date.now() - closing} ms`);
    const namespaces = await runChecked(['ip', 'netns', 'list'], { env: HELPER_ENV });
    assert.doesNotMatch(namespaces, new RegExp(`swc-${cluster.id}`));
    const link = await runProcess(['ip', 'link', 'show', 'dev', names.hostLink], { env: HELPER_ENV });
    assert.notEqual(link.code, 0);
    // Gone, or a zombie its reaper has yet to collect, or another process that got the pid since.
    const alive = pids.filter((pid) => {
      const now = processState(pid);
      return now?.state === 'running' && now.started === started.get(pid);
    });
    assert.deepEqual(alive, []);
    assert.equal(existsSync(names.dir), false);
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(names.dir));
    const cgroups = await runChecked(['find', '/sys/fs/cgroup', '-maxdepth', '2', '-name', `swc-${cluster.id}-*`], {
      env: HELPER_ENV,
    });
    assert.equal(cgroups, '');
  });
});
