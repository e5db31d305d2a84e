// Broken apps fail with the status a user expects, the hook never runs for
// them, nothing of theirs keeps running, and a first failure leaves the app
// answering 503.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startThirdParty } from '../helpers/outside-host.ts';
import { FIXTURES, fixtureCopy, routerGet, type Slipway, startSlipway, TEST_RUNTIME } from '../helpers/slipway.ts';
import { delay, waitFor } from '../helpers/wait.ts';

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

  test('a web process that says why it cannot start: its last 30 lines are under the failure', async () => {
    const { result, deployment } = await deployFixture('says-why', 'web-says-why');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'crashed-error');
    const { json: log } = await slipway.api('GET', `/api/apps/says-why/deployments/${deployment.id}/logs`);
    for (const text of [result.stdout, String(log)]) {
      assert.match(text, /web-1 exited with code 1; its last 30 line\(s\):/);
      assert.match(text, /^ +\| Error: Missing environment variables: JWT_SECRET$/m);
      assert.match(text, /^ +\| boot line 13$/m);
      assert.doesNotMatch(text, /\| boot line 12$/m, 'only the last 30 lines');
      assert.match(text, /all of its output: slipway logs -a says-why --type web-1/);
    }
  });

  test('a web process listening on another port than $PORT is named while the boot still waits', {
    // A task may run on another node: its driver cannot read which ports it listens on.
    skip: TEST_RUNTIME === 'swarm' && 'a swarm task’s listening ports are not known to Slipway',
  }, async () => {
    assert.equal((await slipway.cli(['apps:create', 'elsewhere'])).code, 0);
    const deploying = slipway.cli(['deploy', `${FIXTURES}/web-wrong-port`, '-a', 'elsewhere']);
    let seenWhileStarting = '';
    await waitFor(
      async () => {
        const { json: list } = await slipway.api('GET', '/api/apps/elsewhere/deployments');
        const d = list[0];
        if (d?.status !== 'starting') return false;
        const { json: log } = await slipway.api('GET', `/api/apps/elsewhere/deployments/${d.id}/logs`);
        seenWhileStarting =
          /web-1 listens on \d+, not on PORT \d+: still waiting for PORT/.exec(String(log))?.[0] ?? '';
        return seenWhileStarting !== '';
      },
      'the other port to be named during the boot',
      4000,
      100,
    );
    const result = await deploying;
    assert.equal(result.code, 7);
    const { json: list } = await slipway.api('GET', '/api/apps/elsewhere/deployments');
    assert.equal(list[0].status, 'timeout-error');
    assert.match(list[0].error.message, /it listens on \d+: make it listen on \$PORT/);
    assert.match(result.stdout, /\| listening on \d+, ignoring PORT=\d+/);
  });

  test('a web process that crashes while the hook waits, prepared, never lets the hook run', async () => {
    // The hook's container is made ready while the web boots; here the web dies after that. The
    // hook, if it ran at all, would call the witness below.
    // A witness a hook that slipped through would call: a third party outside (its own network
    // namespace), which containers reach, as they reach the internet.
    const witness = await startThirdParty();
    try {
      const url = `http://${witness.address}:${witness.port}/hook-ran`;
      const dir = fixtureCopy('web-crashes', {
        Procfile: [
          'web: sleep 0.5 && exit 1',
          `postdeploy: node -e "require('http').get(process.env.HOOK_URL)"`,
          '',
        ].join('\n'),
      });
      assert.equal((await slipway.cli(['apps:create', 'late-crasher'])).code, 0);
      assert.equal((await slipway.cli(['env:set', `HOOK_URL=${url}`, '-a', 'late-crasher'])).code, 0);
      const result = await slipway.cli(['deploy', dir, '-a', 'late-crasher']);
      assert.equal(result.code, 7, result.stdout);
      const { json: list } = await slipway.api('GET', '/api/apps/late-crasher/deployments');
      assert.equal(list[0].status, 'crashed-error');
      assertHookNeverRan(list[0], result.stdout);
      await delay(1000); // long enough for a hook that slipped through to have called
      assert.deepEqual(witness.requests(), [], 'the postdeploy hook ran although the boot failed');
      // The witness itself works: the same request from the test reaches it (containers reach such
      // hosts too: test/integration/sandbox-network.test.ts).
      assert.equal((await fetch(url)).status, 200);
      assert.equal((await witness.waitForRequests(1)).length, 1);
    } finally {
      await witness.close();
    }
  });

  test('a web process that never binds $PORT ends timeout-error after the boot timeout', async () => {
    const { result, deployment, containers } = await deployFixture('sleeper', 'web-never-binds');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'timeout-error');
    assert.match(deployment.error.message, /web-1 did not accept connections on PORT \d+ within 5s/);
    assertHookNeverRan(deployment, result.stdout);
    assert.deepEqual(containers, []);
  });

  test('the boot timeout is set per app: longer for a slow web, shorter to fail fast', async () => {
    assert.equal((await slipway.cli(['apps:create', 'slowboot'])).code, 0);
    // The server's boot timeout is 5 s in these tests; this web takes 6 s to listen.
    const slow = fixtureCopy('web-worker-hook', { Procfile: 'web: sleep 6 && node server.js\n' });
    const raised = await slipway.cli(['apps:update', '--boot-timeout', '20s', '-a', 'slowboot']);
    assert.deepEqual([raised.code, raised.stdout], [0, 'slowboot: boot timeout set to 20s']);
    assert.match((await slipway.cli(['apps:info', '-a', 'slowboot'])).stdout, /^Boot timeout: +20s$/m);
    const deployed = await slipway.cli(['deploy', slow, '-a', 'slowboot']);
    assert.equal(deployed.code, 0, deployed.stdout);

    assert.equal((await slipway.cli(['apps:update', '--boot-timeout', '2s', '-a', 'slowboot'])).code, 0);
    const failed = await slipway.cli(['deploy', slow, '-a', 'slowboot']);
    assert.equal(failed.code, 7);
    const { json: list } = await slipway.api('GET', '/api/apps/slowboot/deployments');
    assert.equal(list[0].status, 'timeout-error');
    assert.match(list[0].error.message, /web-1 did not accept connections on PORT \d+ within 2s/);

    const reset = await slipway.cli(['apps:update', '--boot-timeout', 'default', '-a', 'slowboot']);
    assert.equal(reset.stdout, 'slowboot: boot timeout is the server default');
    for (const bad of ['0s', '2h', 'soon']) {
      const refused = await slipway.api('PATCH', '/api/apps/slowboot', { boot_timeout: bad });
      assert.equal(refused.status, 400, bad);
      assert.match(refused.json.error.message, /boot_timeout/);
    }
  });

  test('a failing build ends build-error with the build output in the log', async () => {
    const { result, deployment } = await deployFixture('badbuild', 'build-fails');
    assert.equal(result.code, 7);
    assert.equal(deployment.status, 'build-error');
    assert.equal(deployment.step, 'build');
    assert.match(result.stdout, /compiling assets/);
    assert.equal(deployment.error.message, 'buildpack nodejs: bin/compile exited with code 2');
    assert.match(result.stdout, /^-----> Build\n +Running build$/m);
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

  test('a Procfile of 301 process types ends build-error before any container starts', async () => {
    const types = Array.from({ length: 301 }, (_, i) => `t${i}: sleep 1000`);
    const dir = fixtureCopy('web-worker-hook', { Procfile: `web: node server.js\n${types.join('\n')}\n` });
    assert.equal((await slipway.cli(['apps:create', 'many-types'])).code, 0);
    const result = await slipway.cli(['deploy', dir, '-a', 'many-types']);
    assert.equal(result.code, 7);
    const { json: list } = await slipway.api('GET', '/api/apps/many-types/deployments');
    assert.equal(list[0].status, 'build-error');
    assert.equal(list[0].error.code, 'procfile.too_many_types');
    assert.match(list[0].error.message, /line 21: more than 20 process types/);
    assert.deepEqual((await slipway.api('GET', '/api/apps/many-types/containers')).json, []);
  });

  test('scaling past 100 containers per app is refused with the cap', async () => {
    const dir = fixtureCopy('web-worker-hook');
    assert.equal((await slipway.cli(['apps:create', 'wide'])).code, 0);
    assert.equal((await slipway.cli(['deploy', dir, '-a', 'wide'])).code, 0);
    const refused = await slipway.cli(['scale', 'web=60', 'worker=41', '-a', 'wide']);
    assert.equal(refused.code, 6);
    assert.match(refused.stderr, /would run 101 containers: at most 100 per app/);
    const { json: formation } = await slipway.api('GET', '/api/apps/wide/formation');
    assert.ok(!Object.values(formation).some((q) => Number(q) > 1), JSON.stringify(formation));
  });
});
