// Day-2 process management through the real CLI, API and router: scale,
// rolling restart, crash restarts with backoff and the `crashed` state.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, loadLoop, routerGet, type Slipway, startSlipway, TEST_RUNTIME } from '../helpers/slipway.ts';
import { swarmNodeHostname } from '../helpers/test-swarm.ts';
import { waitForValue } from '../helpers/wait.ts';

const APP = 'scaly';
const HOST = `${APP}.localhost`;

type Container = { name: string; type: string; state: string; restarts: number; started_at: string; node?: string };
/** Under SLIPWAY_TEST_RUNTIME=swarm, Swarm restarts crashed tasks, not Slipway (swarm-runtime.test.ts tests that). */
const swarmRestarts = TEST_RUNTIME === 'swarm' && 'on swarm, Swarm restarts a crashed task itself, not Slipway';

describe('ps, scale, restart and crash restarts', () => {
  let slipway: Slipway;
  const containers = async (app = APP): Promise<Container[]> =>
    (await slipway.api('GET', `/api/apps/${app}/containers`)).json;

  before(async () => {
    slipway = await startSlipway({ env: { SLIPWAY_RESTART_BACKOFF: '200ms' } });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    const deployed = await slipway.cli(['deploy', fixtureCopy('web-worker-hook'), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('ps lists each container with type, state, release, uptime, restarts and, on swarm, its node', async () => {
    // Swarm places each task on a node: the one-node swarm's only one. Other runtimes: no NODE column.
    const node = TEST_RUNTIME === 'swarm' ? await swarmNodeHostname() : undefined;
    const column = node === undefined ? '' : ` +${node.replace(/[.]/g, '\\.')}`;
    const ps = await slipway.cli(['ps', '-a', APP]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, new RegExp(`^NAME +TYPE +STATE +RELEASE +UPTIME +RESTARTS${node ? ' +NODE' : ''}$`, 'm'));
    assert.match(ps.stdout, new RegExp(`^web-1 +web +up +v1 +\\d+[smhd] +0${column}$`, 'm'));
    assert.match(ps.stdout, new RegExp(`^worker-1 +worker +up +v1 +\\d+[smhd] +0${column}$`, 'm'));
    const json = JSON.parse((await slipway.cli(['ps', '-a', APP, '--json'])).stdout);
    assert.deepEqual(json.map((c: Container) => c.name).sort(), ['web-1', 'worker-1']);
    assert.deepEqual(
      json.map((c: Container) => c.node),
      [node, node],
    );
  });

  test('scale web=3: a bounded request loop reaches three distinct web containers', async () => {
    const scaled = await slipway.cli(['scale', 'web=3', '-a', APP]);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.match(scaled.stdout, /Scaled to web=3/);
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 3; i++) {
      const res = await routerGet(slipway.routerPort, HOST);
      assert.equal(res.status, 200);
      seen.add(res.body.trim());
    }
    assert.deepEqual([...seen].sort(), ['v-one web-1', 'v-one web-2', 'v-one web-3']);
  });

  test('scale web=1 under load: no request fails, two containers are retired', async () => {
    const scale = slipway.cli(['scale', 'web=1', '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: scale, minRequests: 500 });
    assert.equal((await scale).code, 0);
    assert.deepEqual(load.failures, []);
    const webs = (await containers()).filter((c) => c.type === 'web');
    assert.deepEqual(
      webs.map((c) => c.name),
      ['web-1'],
    );
  });

  test('restart under load is rolling: no request fails and every container is new', async () => {
    const before = await containers();
    const restart = slipway.cli(['restart', '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: restart, minRequests: 500 });
    const result = await restart;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Restarted 2 container\(s\)/);
    assert.deepEqual(load.failures, []);
    const after = await containers();
    assert.deepEqual(after.map((c) => c.name).sort(), ['web-1', 'worker-1']);
    for (const c of after) {
      const old = before.find((b) => b.name === c.name);
      assert.ok(old && c.started_at > old.started_at, `${c.name} was restarted`);
    }
  });

  test('bad scale requests are refused with a clear error', async () => {
    const unknown = await slipway.cli(['scale', 'clock=1', '-a', APP]);
    assert.equal(unknown.code, 6);
    assert.match(unknown.stderr, /no process type "clock".*it has: web, worker/);
    const garbage = await slipway.cli(['scale', 'web=lots', '-a', APP]);
    assert.equal(garbage.code, 2);
    const tooMany = await slipway.api('PATCH', `/api/apps/${APP}/formation`, { web: 1000 });
    assert.equal(tooMany.status, 422);
    assert.equal(tooMany.json.error.code, 'formation.invalid');
  });

  test('a web process that exits on its own is restarted; ps shows the restart count', {
    skip: swarmRestarts,
  }, async () => {
    const res = await routerGet(slipway.routerPort, HOST, '/exit');
    assert.equal(res.status, 200);
    await waitForValue(
      async () => (await containers()).find((c) => c.name === 'web-1' && c.restarts === 1 && c.state === 'up'),
      'web-1 restarted once and up',
      15_000,
    );
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200);
    const ps = await slipway.cli(['ps', '-a', APP]);
    assert.match(ps.stdout, /^web-1 +web +up +v1 +\d+[smhd] +1$/m);
  });

  test('a container that keeps crashing is restarted with backoff and shown as crashed', {
    skip: swarmRestarts,
  }, async () => {
    const app = 'crashy';
    assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    const dir = fixtureCopy('web-worker-hook', {
      Procfile: 'web: node server.js\nworker: sh -c "echo worker up; sleep 3; exit 4"\n',
    });
    const deployed = await slipway.cli(['deploy', dir, '-a', app]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const worker = await waitForValue(
      async () => (await containers(app)).find((c) => c.name === 'worker-1' && c.state === 'crashed'),
      'worker-1 shown as crashed',
      30_000,
    );
    assert.ok(worker.restarts >= 2, `restarted ${worker.restarts} times before being crashed`);
    // The web container is untouched by its neighbour's crashes.
    assert.equal((await routerGet(slipway.routerPort, `${app}.localhost`)).status, 200);
  });
});
