// `slipway server --runtime swarm` end to end (docs/scale-out.md), on the
// PostgreSQL store when this host can run one (else SQLite): web and worker as
// one-task Swarm services of the release's image, labelled with their app and
// release; the postdeploy hook and `slipway run` as replicated jobs whose exit
// code is read from their task; a failing hook keeps the old release serving
// every request; a crashed web task is restarted by Swarm, not by Slipway; a
// worker task failing before the switch ends the deployment crashed-error.
// Needs dockerd (made a one-node swarm if in none) and the stack image.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { createEngine } from '../../src/runtime/docker/index.ts';
import { homeKey } from '../../src/runtime/sandbox/network-plan.ts';
import { createReleaseImages } from '../../src/runtime/swarm/index.ts';
import { deployWebWorkerHook } from '../helpers/first-deploy.ts';
import { postgresSkipReason, sharedDatabaseFor, stopSharedCluster } from '../helpers/postgres.ts';
import { eventually } from '../helpers/runtime-helpers.ts';
import { BIN, baseEnv, fixtureCopy, loadLoop, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { swarmSkipReason } from '../helpers/test-swarm.ts';

const APP = 'swarmshop';
const HOST = `${APP}.localhost`;
const skip = (await swarmSkipReason()) ?? false;
const onPostgres = postgresSkipReason() === undefined;

interface Service {
  ID: string;
  Spec: {
    Labels: Record<string, string>;
    Mode: Record<string, unknown>;
    TaskTemplate: {
      ContainerSpec: { User: string; Image: string; Env: string[] };
      Resources: { Limits: { MemoryBytes: number; Pids: number } };
      RestartPolicy: { Condition: string };
    };
    EndpointSpec: { Mode: string; Ports?: { PublishMode: string; PublishedPort: number }[] };
  };
}
interface Task {
  ID: string;
  Status: { State: string };
}

describe(`the swarm runtime through slipway server --runtime swarm (store: ${onPostgres ? 'PostgreSQL' : 'SQLite'})`, {
  skip,
}, () => {
  let slipway: Slipway;
  const engine = createEngine();
  let home: string;
  const appServices = async () => {
    const filters = encodeURIComponent(
      JSON.stringify({ label: [`slipway.app=${APP}`, `slipway.home=${homeKey(home)}`] }),
    );
    return engine.request<Service[]>('GET', `/services?filters=${filters}`);
  };
  const tasksOf = async (service: string) => {
    const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
    return engine.request<Task[]>('GET', `/tasks?filters=${filters}`);
  };

  before(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'slipway-swarm-'));
    const env: Record<string, string> = onPostgres ? { SLIPWAY_DATABASE_URL: await sharedDatabaseFor(home) } : {};
    slipway = await startSlipway({ home, env, args: ['--runtime', 'swarm'] });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
    await createReleaseImages(engine, homeKey(home), '').removeAll();
    await stopSharedCluster();
  });

  /** Deploys `dir` under a request loop: it fails (exit 7), only v1 answers, no request fails, v1's services stay alone. */
  const failingDeployUnderLoad = async (dir: string) => {
    const deploy = slipway.cli(['deploy', dir, '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: deploy });
    const result = await deploy;
    assert.equal(result.code, 7, `${result.stdout}\n${result.stderr}`);
    assert.deepEqual(load.failures, []);
    assert.deepEqual([...load.bodies.keys()], ['v-one'], 'only the old release answered');
    const services = await eventually(appServices, (all) => all.length === 2, 10_000);
    assert.deepEqual(
      services.map((s) => s.Spec.Labels['slipway.release']),
      ['v1', 'v1'],
      'the new services are gone',
    );
    return result;
  };

  test('a deployment runs its hook as a job of the new release’s image, then serves from services', async () => {
    // The hook's changes stay in its own task.
    await deployWebWorkerHook(slipway, APP);

    const services = await appServices();
    assert.deepEqual(services.map((s) => s.Spec.Labels['slipway.container']).sort(), ['web-1', 'worker-1']);
    const users = new Set<string>();
    for (const service of services) {
      const { Spec } = service;
      assert.equal(Spec.Labels['slipway.release'], 'v1');
      assert.deepEqual(Spec.Mode, { Replicated: { Replicas: 1 } });
      assert.equal(Spec.TaskTemplate.RestartPolicy.Condition, 'on-failure');
      assert.match(Spec.TaskTemplate.ContainerSpec.Image, new RegExp(`^slipway/${homeKey(home)}/app-${APP}:v1$`));
      // The M size: 512 MiB, as in the sandbox.
      assert.equal(Spec.TaskTemplate.Resources.Limits.MemoryBytes, 512 * 1024 * 1024);
      assert.ok(Spec.TaskTemplate.Resources.Limits.Pids > 0);
      users.add(Spec.TaskTemplate.ContainerSpec.User);
      assert.equal(Spec.EndpointSpec.Mode, 'dnsrr');
      if (Spec.Labels['slipway.container'] === 'web-1') assert.equal(Spec.EndpointSpec.Ports?.[0]?.PublishMode, 'host');
    }
    // The app's own user, never root.
    assert.equal(users.size, 1);
    assert.match([...users][0] ?? '', /^([1-9]\d+):\1$/);
  });

  test('slipway run: a one-off job of the release, its output and its exit code', async () => {
    const result = await slipway.cli(['run', '-a', APP, '--', 'echo "$APP $CONTAINER"; id -u; exit 5']);
    assert.equal(result.code, 5, result.stderr);
    const [first, uid] = result.stdout.split('\n');
    assert.equal(first, `${APP} one-off-1`);
    assert.notEqual(uid, '0');
    assert.deepEqual(
      (await appServices()).map((s) => s.Spec.Labels['slipway.container']).sort(),
      ['web-1', 'worker-1'],
      'the job is gone',
    );
    // And its task's container, and the hook's (which Swarm leaves behind when a job is removed).
    const leftOf = async (container: string) => {
      const filters = JSON.stringify({ label: [`slipway.app=${APP}`, `slipway.container=${container}`] });
      return engine.request<unknown[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
    };
    for (const container of ['one-off-1', 'postdeploy-1'])
      assert.deepEqual(
        await eventually(
          () => leftOf(container),
          (left) => left.length === 0,
          5000,
        ),
        [],
        container,
      );
  });

  test('a crashed web task is restarted by Swarm, not by Slipway, at the same address', async () => {
    const web = (await appServices()).find((s) => s.Spec.Labels['slipway.container'] === 'web-1');
    assert.ok(web);
    const crash = await routerGet(slipway.routerPort, HOST, '/exit');
    assert.equal(crash.status, 200);
    const tasks = await eventually(
      () => tasksOf(web.ID),
      (all) => all.some((t) => t.Status.State === 'failed') && all.some((t) => t.Status.State === 'running'),
      15_000,
    );
    assert.equal(tasks.length, 2, JSON.stringify(tasks.map((t) => t.Status.State)));
    const res = await eventually(
      () => routerGet(slipway.routerPort, HOST).catch(() => ({ status: 0, body: '' })),
      (r) => r.status === 200,
      15_000,
    );
    assert.deepEqual([res.status, res.body], [200, 'v-one web-1\n']);
    // The same service (Slipway started no other), and Slipway's log says nothing of a restart of its own.
    const after = await appServices();
    assert.equal(after.length, 2);
    assert.ok(after.some((s) => s.ID === web.ID));
    const logs = await slipway.cli(['logs', '-a', APP]);
    assert.doesNotMatch(logs.stdout, /\[slipway\] web-1 .*restarting/);
  });

  test('a failing hook ends hook-error; the old services keep serving every request', async () => {
    const dir = fixtureCopy('web-worker-hook', {
      'label.txt': 'v-two\n',
      Procfile: 'web: node server.js\nworker: node worker.js\npostdeploy: echo "checking schema" && exit 3\n',
    });
    const result = await failingDeployUnderLoad(dir);
    // One task, never restarted by Swarm (restart condition none): the hook ran once.
    assert.equal(result.stdout.match(/^\s*checking schema$/gm)?.length, 1, result.stdout);
    assert.match(result.stderr, /hook-error at step hook: postdeploy hook exited with code 3/);
  });

  test('a worker task that fails before the switch ends crashed-error; the old release keeps serving', async () => {
    // Swarm would restart it: the deployment sees its first failure, not an end.
    const dir = fixtureCopy('web-worker-hook', {
      'label.txt': 'v-three\n',
      Procfile: 'web: node server.js\nworker: echo "worker cannot start" && exit 4\npostdeploy: sleep 3\n',
    });
    const result = await failingDeployUnderLoad(dir);
    assert.match(result.stderr, /crashed-error at step (boot|hook): worker-1 exited with code 4 during boot/);
    assert.match(result.stdout, /^ +\| worker cannot start$/m);
  });
});

describe('slipway server --runtime swarm where it cannot run', () => {
  /** The real binary against `socket`; its output and exit code. */
  const serve = async (socket: (home: string) => string) => {
    const home = mkdtempSync(path.join(tmpdir(), 'slipway-noswarm-'));
    const lines: string[] = [];
    try {
      const result = await runProcess(
        [BIN, 'server', '--runtime', 'swarm', '--home', home, '--port', '0', '--router-port', '0'],
        {
          env: baseEnv({ SLIPWAY_DOCKER_SOCKET: socket(home) }),
          onLine: (stream, line) => lines.push(`${stream}: ${line}`),
          timeoutMs: 30_000,
        },
      );
      return { code: result.code, output: lines.join('\n') };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };
  /** A socket answering like a dockerd whose `/info` reports `swarm`, with Docker's default bridge (icc on). */
  const fakeDockerd = async (home: string, swarm: Record<string, unknown>) => {
    const server = http.createServer((req, res) => {
      if (req.url?.endsWith('/_ping')) return res.end('OK');
      res.setHeader('content-type', 'application/json');
      if (req.url?.endsWith('/networks/bridge'))
        return res.end(JSON.stringify({ Options: { 'com.docker.network.bridge.enable_icc': 'true' } }));
      res.end(JSON.stringify({ Swarm: swarm }));
    });
    const socket = path.join(home, 'docker.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { socket, close: () => new Promise((resolve) => server.close(resolve)) };
  };

  test('no dockerd: it refuses to start and says why, without a stack trace', async () => {
    const { code, output } = await serve((home) => path.join(home, 'no-docker.sock'));
    // It exits on its own (it used to stay up, its router and store open, until killed).
    assert.equal(code, 6, output);
    assert.match(
      output,
      /the swarm runtime cannot run here: cannot reach dockerd at .*no-docker\.sock.*is dockerd running\?/,
    );
    assert.doesNotMatch(output, /\n\s+at /, 'a stack trace');
  });

  for (const [state, swarm, expected] of [
    ['in no swarm', { LocalNodeState: 'inactive' }, /this dockerd is not in a swarm: run `docker swarm init/],
    [
      'a worker',
      { LocalNodeState: 'active', ControlAvailable: false },
      /this dockerd is a swarm worker: Slipway needs a manager node/,
    ],
    [
      'whose default bridge lets containers reach one another',
      { LocalNodeState: 'active', ControlAvailable: true },
      /containers on the default docker bridge of .*docker\.sock can reach one another, so apps would reach each other: set "icc": false in \/etc\/docker\/daemon\.json .*SLIPWAY_SWARM_SHARED_BRIDGE=1/,
    ],
  ] as const) {
    test(`a dockerd ${state}: it refuses to start and says what to do`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'slipway-fake-dockerd-'));
      const fake = await fakeDockerd(dir, swarm);
      try {
        const { code, output } = await serve(() => fake.socket);
        assert.equal(code, 6, 'it exited on its own, nothing left running');
        assert.match(output, expected);
        assert.doesNotMatch(output, /\n\s+at /, 'a stack trace');
      } finally {
        await fake.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
