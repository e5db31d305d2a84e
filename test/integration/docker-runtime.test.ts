// `slipway server --runtime docker` end to end (docs/docker.md): a deployment
// whose postdeploy hook runs as a Docker container of the new release, web and
// worker as Docker containers labelled with their app and release, run as the
// app's uid with their size's limits; a failing hook keeps the old release
// serving every request. Needs a real dockerd and the stack image (CI has both).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { createEngine } from '../../src/runtime/docker/index.ts';
import { deployWebWorkerHook } from '../helpers/first-deploy.ts';
import { BIN, baseEnv, fixtureCopy, loadLoop, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { dockerSkipReason } from '../helpers/test-docker.ts';

const APP = 'dockshop';
const HOST = `${APP}.localhost`;
const skip = (await dockerSkipReason()) ?? false;

interface Listed {
  Id: string;
  Labels: Record<string, string>;
  State: string;
}
interface Inspected {
  Config: { User: string; Image: string };
  HostConfig: { Memory: number; PidsLimit: number; CpuShares: number };
}

describe('the docker runtime through slipway server --runtime docker', { skip }, () => {
  let slipway: Slipway;
  const engine = createEngine();
  const appContainers = async () => {
    const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.app=${APP}`] }));
    return engine.request<Listed[]>('GET', `/containers/json?filters=${filters}`);
  };

  before(async () => {
    slipway = await startSlipway({ args: ['--runtime', 'docker'] });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('a deployment runs its hook in a container of the new release, then serves from containers', async () => {
    // The hook's changes stay in its own container.
    await deployWebWorkerHook(slipway, APP);

    const running = await appContainers();
    assert.deepEqual(running.map((c) => c.Labels['slipway.container']).sort(), ['web-1', 'worker-1']);
    const users = new Set<string>();
    for (const container of running) {
      assert.equal(container.Labels['slipway.release'], 'v1');
      const inspected = await engine.request<Inspected>('GET', `/containers/${container.Id}/json`);
      users.add(inspected.Config.User);
      // The M size: 512 MiB, as in the sandbox.
      assert.equal(inspected.HostConfig.Memory, 512 * 1024 * 1024);
      assert.ok(inspected.HostConfig.PidsLimit > 0 && inspected.HostConfig.CpuShares > 0);
    }
    // The app's own user, never root.
    assert.equal(users.size, 1);
    assert.match([...users][0] ?? '', /^([1-9]\d+):\1$/);
  });

  test('slipway run: a one-off container of the release, its output and its exit code', async () => {
    const result = await slipway.cli([
      'run',
      '-a',
      APP,
      '--env',
      'EXTRA=a\nb',
      '--',
      'echo "$APP $CONTAINER $EXTRA"; id -u; exit 5',
    ]);
    assert.equal(result.code, 5, result.stderr);
    const [first, second, uid] = result.stdout.split('\n');
    assert.deepEqual([first, second], [`${APP} one-off-1 a`, 'b'], 'a multi-line variable arrives whole');
    assert.notEqual(uid, '0');
    assert.deepEqual(
      (await appContainers()).map((c) => c.Labels['slipway.container']).sort(),
      ['web-1', 'worker-1'],
      'the one-off container is gone',
    );
  });

  test('a failing hook ends hook-error; the old containers keep serving every request', async () => {
    const dir = fixtureCopy('web-worker-hook', {
      'label.txt': 'v-two\n',
      Procfile: 'web: node server.js\nworker: node worker.js\npostdeploy: echo "checking schema" && exit 3\n',
    });
    const deploy = slipway.cli(['deploy', dir, '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: deploy });
    const result = await deploy;
    assert.notEqual(result.code, 0);
    assert.match(result.stdout, /checking schema/);
    assert.match(result.stderr, /hook-error at step hook: postdeploy hook exited with code 3/);
    assert.deepEqual(load.failures, []);
    assert.deepEqual([...load.bodies.keys()], ['v-one'], 'only the old release answered');
    const running = await appContainers();
    assert.deepEqual(
      running.map((c) => c.Labels['slipway.release']),
      ['v1', 'v1'],
      'the new containers are gone',
    );
  });
});

describe('without a dockerd', () => {
  /** The real binary, with SLIPWAY_DOCKER_SOCKET at a path where nothing listens. */
  const run = async (args: string[]) => {
    const home = mkdtempSync(path.join(tmpdir(), 'slipway-nodocker-'));
    const lines: string[] = [];
    try {
      const result = await runProcess(
        [BIN, ...args, ...(args[0] === 'server' ? ['--home', home, '--port', '0', '--router-port', '0'] : [])],
        {
          env: baseEnv({ SLIPWAY_DOCKER_SOCKET: path.join(home, 'no-docker.sock') }),
          onLine: (stream, line) => lines.push(`${stream}: ${line}`),
          timeoutMs: 30_000,
        },
      );
      return { code: result.code, output: lines.join('\n') };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };

  test('slipway server --runtime docker refuses to start and says why, without a stack trace', async () => {
    const { code, output } = await run(['server', '--runtime', 'docker']);
    // It exits on its own (it used to stay up, its router and store open, until killed).
    assert.equal(code, 6, output);
    assert.match(
      output,
      /the docker runtime cannot run here: cannot reach dockerd at .*no-docker\.sock.*is dockerd running\?/,
    );
    assert.doesNotMatch(output, /\n\s+at /, 'a stack trace');
  });

  test('slipway stack:build says dockerd does not answer', async () => {
    const { code, output } = await run(['stack:build']);
    assert.equal(code, 8, output);
    assert.match(output, /^stderr: error: cannot reach dockerd at .*no-docker\.sock.*\(is dockerd running\?\)$/m);
  });
});
