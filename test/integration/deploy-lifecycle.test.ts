// The core promise, end to end through the real CLI, API and router: a
// deployment runs the postdeploy hook in a one-off container of the new
// version and switches traffic only when it succeeds; a failing hook leaves
// the old version serving, with no request lost either way.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { commitAll } from '../helpers/git-fixture.ts';
import { fixtureCopy, loadLoop, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'shop';
const HOST = `${APP}.localhost`;

describe('deploying an app with a postdeploy hook', () => {
  let slipway: Slipway;
  let firstSha = '';

  before(async () => {
    slipway = await startSlipway();
    const created = await slipway.cli(['apps:create', APP]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`http://${HOST}:${slipway.routerPort}`));
  });
  after(async () => {
    await slipway?.stop();
  });

  test('an app with no deployment answers 503 at its hostname, an unknown host 404', async () => {
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 503);
    assert.equal((await routerGet(slipway.routerPort, 'nope.localhost')).status, 404);
  });

  test('the first deployment runs the hook with the real values, then serves web', async () => {
    const dir = fixtureCopy('web-worker-hook');
    firstSha = await commitAll(dir);
    // As a user runs it: the bin/slipway process (elsewhere the CLI mostly runs in process).
    const result = await slipway.cli(['deploy', dir, '-a', APP], { spawn: true });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);

    // Hook output, live in the deployment log, with the real runtime values.
    assert.match(result.stdout, /migrating database for shop/);
    assert.match(result.stdout, new RegExp(`hook shop postdeploy-1 ${firstSha}\\b`));
    assert.match(result.stdout, /command \(from Procfile\): \.\/scripts\/migrate\.sh && echo/);
    // A header and a duration for each step, in lifecycle order.
    const headers = [...result.stdout.matchAll(/^-----> (.+)$/gm)].map((m) => m[1]);
    const order = [
      'Fetching source',
      'Building',
      'Storing slug',
      'Starting containers',
      'Running postdeploy hook',
      'Switching traffic',
    ];
    assert.deepEqual(
      headers.filter((h) => order.includes(h ?? '')),
      order,
    );
    assert.match(result.stdout, /hook took \d/);
    assert.match(result.stdout, /succeeded: v1 is live/);

    const res = await routerGet(slipway.routerPort, HOST);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'v-one web-1\n');

    const { json: containers } = await slipway.api('GET', `/api/apps/${APP}/containers`);
    assert.deepEqual(containers.map((c: { name: string }) => c.name).sort(), ['web-1', 'worker-1']);
    assert.ok(containers.every((c: { state: string; release: string }) => c.state === 'up' && c.release === 'v1'));

    const { json: list } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
    const [deployment] = list;
    assert.equal(deployment.status, 'success');
    assert.equal(deployment.commit_sha, firstSha);
    assert.equal(deployment.release, 'v1');
    assert.deepEqual(deployment.hook, {
      command: './scripts/migrate.sh && echo "hook $APP $CONTAINER $CONTAINER_VERSION"',
      source: 'Procfile',
      exit_code: 0,
    });
    assert.deepEqual(
      deployment.steps.map((s: { name: string }) => s.name),
      ['fetch', 'build', 'slug', 'boot', 'hook', 'switch', 'retire'],
    );
  });

  test("the hook's file changes never reach the running web container", async () => {
    const files = JSON.parse((await routerGet(slipway.routerPort, HOST, '/files')).body);
    assert.ok(files.includes('label.txt'), 'the hook deleted label.txt in its own container only');
    assert.ok(!files.includes('migrated.txt'), 'the hook wrote migrated.txt in its own container only');
  });

  test('a failing hook ends hook-error and the old version keeps serving every request', async () => {
    const dir = fixtureCopy('web-worker-hook', {
      'label.txt': 'v-two\n',
      Procfile: 'web: node server.js\nworker: node worker.js\npostdeploy: echo "checking schema" && exit 1\n',
    });
    const deploy = slipway.cli(['deploy', dir, '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: deploy });
    const result = await deploy;

    assert.notEqual(result.code, 0);
    assert.match(result.stdout, /checking schema/);
    assert.match(result.stderr, /failed with status hook-error at step hook: postdeploy hook exited with code 1/);
    assert.ok(load.total >= 2000, `only ${load.total} requests`);
    assert.deepEqual(load.failures, []);
    assert.deepEqual([...load.bodies.keys()], ['v-one'], 'only the old version answered');

    const { json: app } = await slipway.api('GET', `/api/apps/${APP}`);
    assert.equal(app.current_release, 'v1');
    assert.deepEqual(
      app.containers.map((c: { release: string }) => c.release),
      ['v1', 'v1'],
      'new containers are gone',
    );
    const { json: list } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
    assert.equal(list[0].status, 'hook-error');
    assert.equal(list[0].hook.exit_code, 1);
    assert.equal(list[0].error.code, 'deploy.hook_failed');
  });

  test('a fixed deployment succeeds with zero downtime and retires the old containers', async () => {
    const dir = fixtureCopy('web-worker-hook', { 'label.txt': 'v-three\n' });
    const deploy = slipway.cli(['deploy', dir, '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: deploy });
    const result = await deploy;

    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /succeeded: v3 is live/);
    assert.ok(load.total >= 2000, `only ${load.total} requests`);
    assert.deepEqual(load.failures, []);
    assert.equal((await routerGet(slipway.routerPort, HOST)).body, 'v-three web-1\n');

    const { json: releases } = await slipway.api('GET', `/api/apps/${APP}/releases`);
    assert.deepEqual(
      releases.map((r: { version: string; current: boolean }) => `${r.version}${r.current ? '*' : ''}`),
      ['v3*', 'v2', 'v1'],
    );
    await waitFor(
      async () => {
        const { json: containers } = await slipway.api('GET', `/api/apps/${APP}/containers`);
        return containers.length === 2 && containers.every((c: { release: string }) => c.release === 'v3');
      },
      'old containers retired',
      15_000,
      100,
    );
  });

  test('env:set makes a new release and restarts without running the hook', async () => {
    const result = await slipway.cli(['env:set', 'GREETING=hello world', 'QUOTED=a "b" $c', '-a', APP]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Done: v4 is live/);
    const env = JSON.parse((await routerGet(slipway.routerPort, HOST, '/env')).body);
    assert.equal(env.GREETING, 'hello world');
    assert.equal(env.QUOTED, 'a "b" $c');
    assert.equal(env.APP, APP);
    assert.equal(env.CONTAINER, 'web-1');
    assert.equal(env.DYNO, 'web.1');
    assert.equal(env.SLIPWAY_TOKEN, undefined, "the server's own environment never leaks into an app");
    const { json: list } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
    assert.equal(list[0].kind, 'config');
    assert.equal(list[0].status, 'success');
    assert.equal(list[0].hook, null);
    assert.ok(!list[0].steps.some((s: { name: string }) => s.name === 'hook'));

    const shown = await slipway.cli(['env', '-a', APP]);
    assert.match(shown.stdout, /^GREETING=hello world$/m);
  });
});
