// `slipway server --runtime swarm` on a swarm of three machines (test/helpers/
// swarm-cluster.ts: one dockerd per network namespace, all managers). The
// server and its router run on the host; the server's dockerd is n1's, and
// SLIPWAY_SWARM_NODES names the two others, into which each release image is
// `docker save | docker load`ed. Shown: `web=3` spread over the nodes and
// answering through the router; a node lost while a request loop runs through
// the router, its task rescheduled by Swarm, no request failing; a deployment
// while that node is down, its hook run exactly once on a node Swarm picked.
// Needs root, dockerd and the stack image; about 2 minutes.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEngine, DEFAULT_STACK_IMAGE, type Engine } from '../../src/runtime/docker/index.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { type SwarmCluster, startSwarmCluster, swarmClusterSkipReason } from '../helpers/swarm-cluster.ts';
import { dockerSkipReason } from '../helpers/test-docker.ts';
import { waitForValue } from '../helpers/wait.ts';

const skip = (await swarmClusterSkipReason()) ?? (await dockerSkipReason()) ?? false;
const APP = 'fleet';
const HOST = `${APP}.localhost`;
const PROCFILE = 'web: node server.js\npostdeploy: echo "hook ran for $CONTAINER_VERSION"\n';

interface Task {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
  Spec: { ContainerSpec: { Labels?: Record<string, string> } };
}

describe('slipway server --runtime swarm on three nodes', { skip }, () => {
  let cluster: SwarmCluster;
  let slipway: Slipway;
  /** The server's manager: never the node stopped. */
  const MANAGER = 'n1';
  let manager: Engine;
  let victim = '';
  const _victim = '';

  /** The app's tasks Swarm wants running, with their node's name (n1..) and container (web-1..). */
  async function appTasks(): Promise<
    { id: string; node: string; container: string; release: string; state: string }[]
  > {
    const byId = Object.fromEntries(Object.entries(await cluster.nodeStates()).map(([name, n]) => [n.id, name]));
    const tasks = await manager.request<Task[]>('GET', '/tasks');
    return tasks
      .filter((t) => t.Spec.ContainerSpec.Labels?.['slipway.app'] === APP)
      .map((t) => ({
        id: t.ID,
        node: byId[t.NodeID] ?? t.NodeID,
        container: t.Spec.ContainerSpec.Labels?.['slipway.container'] ?? '',
        release: t.Spec.ContainerSpec.Labels?.['slipway.release'] ?? '',
        state: `${t.DesiredState}/${t.Status.State}`,
      }));
  }
  const runningWeb = async () =>
    (await appTasks()).filter((t) => t.container.startsWith('web-') && t.state === 'running/running');

  before(async () => {
    cluster = await startSwarmCluster({ images: [DEFAULT_STACK_IMAGE] });
    manager = createEngine(cluster.dockerSocket(MANAGER));
    const others = cluster.nodes.filter((node) => node !== MANAGER).map((node) => cluster.dockerSocket(node));
    slipway = await startSlipway({
      home: mkdtempSync(path.join(tmpdir(), 'slipway-multinode-')),
      env: {
        SLIPWAY_DOCKER_SOCKET: cluster.dockerSocket(MANAGER),
        SLIPWAY_SWARM_NODES: others.map((socket) => `unix://${socket}`).join(','),
      },
      args: ['--runtime', 'swarm', '--boot-timeout', '60s', '--hook-timeout', '60s'],
    });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
    await cluster?.close();
  });

  test('web=3 spreads over the nodes, each release image loaded on every node, all answering through the router', async (t) => {
    t.diagnostic(`cluster start: ${cluster.timings.startMs} ms`);
    const dir = fixtureCopy('web-worker-hook', { Procfile: PROCFILE });
    let begun = Date.now();
    const deployed = await slipway.cli(['deploy', dir, '-a', APP]);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    assert.match(deployed.stdout, /succeeded: v1 is live/);
    t.diagnostic(`first deployment: ${Date.now() - begun} ms`);
    begun = Date.now();
    const scaled = await slipway.cli(['scale', 'web=3', '-a', APP]);
    assert.equal(scaled.code, 0, `${scaled.stdout}\n${scaled.stderr}`);
    t.diagnostic(`scale web=3: ${Date.now() - begun} ms`);

    const web = await waitForValue(
      async () => ((r) => (r.length === 3 ? r : undefined))(await runningWeb()),
      '3 web tasks',
      30_000,
      250,
    );
    const nodes = new Set(web.map((task) => task.node));
    t.diagnostic(`web tasks: ${web.map((task) => `${task.container}@${task.node}`).join(' ')}`);
    assert.ok(nodes.size >= 2, `all on ${[...nodes]}`);
    // The release image reached every node (the stack image was loaded by the cluster).
    for (const node of cluster.nodes) {
      const images = await cluster.docker(node, ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.match(images, new RegExp(`/app-${APP}:v1$`, 'm'), node);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 3; i++) {
      const res = await routerGet(slipway.routerPort, HOST);
      assert.equal(res.status, 200, res.body);
      seen.add(res.body.trim());
    }
    assert.deepEqual([...seen].sort(), ['v-one web-1', 'v-one web-2', 'v-one web-3']);
  });

  test('a node lost: its web task rescheduled by Swarm while requests through the router keep succeeding', async (t) => {
    const web = await runningWeb();
    const lost = web.find((task) => task.node !== MANAGER);
    assert.ok(lost !== undefined, JSON.stringify(web));
    victim = lost.node;
    const stopped = Date.now();
    const timings: string[] = [];
    const rescheduled = (async () => {
      await cluster.stopNode(victim);
      await cluster.waitForStatus(victim, 'down', 60_000);
      timings.push(`${victim} down after ${Date.now() - stopped} ms`);
      const moved = await waitForValue(
        async () =>
          ((r) => (r.length === 3 && r.every((task) => task.node !== victim) ? r : undefined))(await runningWeb()),
        `3 web tasks off ${victim}`,
        60_000,
        250,
      );
      timings.push(
        `${lost.container} running on ${moved.find((task) => task.container === lost.container)?.node} after ${Date.now() - stopped} ms`,
      );
      return moved;
    })();
    const log: { at: number; ms: number; answer: string }[] = [];
    let looping = true;
    const worker = async () => {
      while (looping) {
        const at = Date.now() - stopped;
        const answer = await routerGet(slipway.routerPort, HOST, '/', '127.0.0.1', 70_000).then(
          (res) => (res.status === 200 ? res.body.trim() : `${res.status}`),
          (err: Error) => err.message,
        );
        log.push({ at, ms: Date.now() - stopped - at, answer });
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    let moved: Awaited<typeof rescheduled>;
    try {
      moved = await rescheduled;
      await new Promise((resolve) => setTimeout(resolve, 8000));
    } finally {
      looping = false;
      await Promise.all(workers);
    }
    for (const line of timings) t.diagnostic(line);
    const failed = log.filter((r) => !r.answer.startsWith('v-one'));
    t.diagnostic(`${log.length} requests through the router, ${failed.length} failed: ${JSON.stringify(failed)}`);
    const slow = log.filter((r) => r.ms > 1000);
    t.diagnostic(`slow (>1 s): ${JSON.stringify(slow)}`);
    for (const line of slipway.serverOutput.filter((l) => /upstream|another node|node lost/.test(l)).slice(0, 12))
      t.diagnostic(line.slice(0, 400));
    assert.deepEqual(failed, []);
    assert.deepEqual(moved.map((task) => task.container).sort(), ['web-1', 'web-2', 'web-3']);
    // Does the router reach the task where Swarm moved it?
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const res = await routerGet(slipway.routerPort, HOST);
      assert.equal(res.status, 200, res.body);
      seen.set(res.body.trim(), (seen.get(res.body.trim()) ?? 0) + 1);
    }
    t.diagnostic(`after the move: ${JSON.stringify([...seen])}`);
  });

  test('a deployment while that node is down: the image goes to the nodes that answer, the hook runs once', async (t) => {
    assert.ok(victim !== '' && !cluster.running(victim), 'the node lost by the previous test');
    const dir = fixtureCopy('web-worker-hook', { Procfile: PROCFILE, 'label.txt': 'v-two\n' });
    const begun = Date.now();
    const deployed = await slipway.cli(['deploy', dir, '-a', APP]);
    t.diagnostic(`deployment with ${victim} down: ${Date.now() - begun} ms`);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    assert.match(deployed.stdout, /succeeded: v2 is live/);
    // The hook's output, once, in the deployment log.
    assert.equal(
      deployed.stdout.split('\n').filter((line) => line.trim() === 'hook ran for v2').length,
      1,
      deployed.stdout,
    );
    // One task for the hook of v2, complete, on a node Swarm picked among those up.
    const hooks = (await appTasks()).filter((task) => task.container.startsWith('postdeploy-'));
    const v2 = hooks.filter((task) => task.release === 'v2');
    t.diagnostic(`hook tasks: ${JSON.stringify(hooks)}`);
    assert.equal(v2.length, 1, JSON.stringify(hooks));
    assert.match(v2[0]?.state ?? '', /\/complete$/);
    assert.ok(v2[0]?.node !== victim && cluster.nodes.includes(v2[0]?.node ?? ''), v2[0]?.node);
    assert.ok(
      slipway.serverOutput.some((line) => line.includes('a swarm node is unreachable') && line.includes(`/${victim}/`)),
      `no warning about ${victim}`,
    );
    for (const line of slipway.serverOutput.filter((l) => l.includes('loaded on the swarm nodes')))
      t.diagnostic(line.slice(0, 300));
    const web = await runningWeb();
    assert.deepEqual(web.map((task) => task.container).sort(), ['web-1', 'web-2', 'web-3']);
    assert.ok(web.every((task) => task.node !== victim));
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await routerGet(slipway.routerPort, HOST);
      assert.equal(res.status, 200, res.body);
      seen.add(res.body.trim());
    }
    assert.deepEqual([...seen].sort(), ['v-two web-1', 'v-two web-2', 'v-two web-3']);
  });

  test("the hook's node lost mid-run: hook-error at once, saying so, and the old release keeps serving", async (t) => {
    // Back to three nodes (losing a second manager would cost the raft quorum); n1, the server's
    // manager, drained so that the hook runs on a node that can be lost.
    await cluster.startNode(victim);
    await cluster.docker(MANAGER, ['node', 'update', '--availability', 'drain', MANAGER]);
    const dir = fixtureCopy('web-worker-hook', {
      Procfile: 'web: node server.js\npostdeploy: echo "hook started"; sleep 50\n',
      'label.txt': 'v-three\n',
    });
    const deploying = slipway.cli(['deploy', dir, '-a', APP]);
    let over: string | undefined;
    void deploying.then((r) => {
      over = `${r.stdout}\n${r.stderr}`;
    });
    const hook = await waitForValue(
      async () => {
        assert.equal(over, undefined, 'the deployment ended before its hook was seen running');
        return (await appTasks()).find(
          (task) =>
            task.container.startsWith('postdeploy-') && task.release === 'v3' && task.state.endsWith('/running'),
        );
      },
      'the hook of v3 running',
      60_000,
      250,
    );
    // n1 back in service, where the v2 tasks on the node about to be lost can go (the node that
    // came back has no v2 image: it was down when v2 was deployed).
    await cluster.docker(MANAGER, ['node', 'update', '--availability', 'active', MANAGER]);
    const stopped = Date.now();
    await cluster.stopNode(hook.node);
    const deployed = await deploying;
    t.diagnostic(`hook on ${hook.node}; deployment ended ${Date.now() - stopped} ms after the node was cut`);
    assert.notEqual(deployed.code, 0, deployed.stdout);
    assert.match(`${deployed.stdout}${deployed.stderr}`, /hook-error/);
    assert.match(`${deployed.stdout}${deployed.stderr}`, new RegExp(`was lost with its node ${hook.node}`));
    // Well before the hook's own end (50 s) or its timeout (60 s).
    assert.ok(Date.now() - stopped < 30_000, `${Date.now() - stopped} ms`);
    // v2 keeps serving: its tasks on the lost node are rescheduled and followed by the router
    // (the first requests may fail when two of them were on that node: one retry per request).
    const since = Date.now();
    let streak = 0;
    await waitForValue(
      async () => {
        const res = await routerGet(slipway.routerPort, HOST).catch(() => ({ status: 0, body: '' }));
        streak = res.status === 200 && res.body.startsWith('v-two ') ? streak + 1 : 0;
        return streak >= 20 ? true : undefined;
      },
      'v2 serving again',
      30_000,
      50,
    );
    t.diagnostic(`v2 answering every request again ${Date.now() - since} ms after the deployment failed`);
  });
});
