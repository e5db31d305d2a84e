// Broken apps fail with the status a user expects, the hook never runs for
// them, nothing of theirs keeps running, and a first failure leaves the app
// answering 503.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FIXTURES, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

describe('broken apps', () => {
  let slipway: Slipway;
  before(async () => {
    slipway = await startSlipway();
  });
  after(async () => {
    await slipway?.stop();
  });

  async function deployFixture(app: string, fixture: string) {
    assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    const result = await slipway.cli(['deploy', `${FIXTURES}/${fixture}`, '-a', app]);
    const { json: list } = await slipway.api('GET', `/api/apps/${app}/deployments`);
    const { json: containers } = await slipway.api('GET', `/api/apps/${app}/containers`);
    return { result, deployment: list[0], containers };
  }

  function assertHookNeverRan(deployment: { hook: unknown; steps: { name: string }[] }, log: string) {
    assert.equal(deployment.hook, null);
    assert.ok(!deployment.steps.some((s) => s.name === 'hook'));
    assert.doesNotMatch(log, /this hook must never run/);
  }

  test('a web process that exits during boot ends crashed-error', async () => {
    const { result, deployment, containers } = await deployFixture('crasher', 'web-crashes');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'crashed-error');
    assert.equal(deployment.step, 'boot');
    assert.match(deployment.error.message, /web-1 exited with code 1 during boot/);
    assert.match(result.stderr, /crashed-error/);
    assertHookNeverRan(deployment, result.stdout);
    assert.deepEqual(containers, []);
    assert.equal((await routerGet(slipway.routerPort, 'crasher.localhost')).status, 503);
  });

  test('a web process that never binds $PORT ends timeout-error after the boot timeout', async () => {
    const { result, deployment, containers } = await deployFixture('sleeper', 'web-never-binds');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'timeout-error');
    assert.match(deployment.error.message, /web-1 did not accept connections on PORT \d+ within 5s/);
    assertHookNeverRan(deployment, result.stdout);
    assert.deepEqual(containers, []);
  });

  test('a failing build ends build-error with the build output in the log', async () => {
    const { result, deployment } = await deployFixture('badbuild', 'build-fails');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'build-error');
    assert.equal(deployment.step, 'build');
    assert.match(result.stdout, /compiling assets/);
    assert.match(deployment.error.message, /npm run build/);
    assert.equal(deployment.release, null, 'no release is created for a failed build');
    assertHookNeverRan(deployment, result.stdout);
  });

  test('a malformed Procfile ends build-error naming the line', async () => {
    const { result, deployment } = await deployFixture('badprocfile', 'bad-procfile');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'build-error');
    assert.equal(deployment.error.code, 'procfile.invalid_line');
    assert.match(deployment.error.message, /line 3/);
    assert.match(result.stderr, /Procfile line 3/);
  });
});
