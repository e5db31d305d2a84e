// Non-web process types: the formation can be set before an app's first
// release (and its first deployment uses it), a manifest's `formation`
// applies to the first deployment for the types nobody scaled, and a worker
// that crashes at boot fails the deployment with a message that says how to
// deploy without it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const PROCFILE = ['web: node server.js', 'worker: node worker.js', 'clock: node worker.js', ''].join('\n');

describe('non-web process types', () => {
  let slipway: Slipway;
  const names = async (app: string) =>
    ((await slipway.api('GET', `/api/apps/${app}/containers`)).json as { name: string }[]).map((c) => c.name).sort();
  /** Once the previous release's containers are retired (after the switch, which ends `deploy`). */
  const settled = async (app: string, expected: string[]) => {
    await waitFor(
      async () => (await names(app)).join() === expected.join(),
      `${app}: ${expected.join(' ')}`,
      30_000,
      100,
    );
  };

  before(async () => {
    slipway = await startSlipway();
  });
  after(() => slipway?.stop());

  test('scale before the first release is kept, and the first deployment runs that formation', async () => {
    assert.equal((await slipway.cli(['apps:create', 'early'])).code, 0);
    const scaled = await slipway.cli(['scale', 'clock=0', 'worker=2', '-a', 'early']);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal(scaled.stdout, 'Scaled to clock=0 worker=2 (no release yet: the first deployment uses it)');
    const deployed = await slipway.cli([
      'deploy',
      fixtureCopy('web-worker-hook', { Procfile: PROCFILE }),
      '-a',
      'early',
    ]);
    assert.equal(deployed.code, 0, deployed.stdout);
    assert.deepEqual(await names('early'), ['web-1', 'worker-1', 'worker-2']);
    assert.equal((await routerGet(slipway.routerPort, 'early.localhost')).status, 200);
  });

  test('before a release, names and sizes are still checked', async () => {
    assert.equal((await slipway.cli(['apps:create', 'picky'])).code, 0);
    for (const [body, message] of [
      [{ postdeploy: 1 }, /"postdeploy" cannot be a process type name/],
      [{ 'a b': 1 }, /cannot be a process type name/],
      [{ worker: -1 }, /quantity of "worker" must be a whole number/],
      [{ worker: 60, web: 60 }, /would run 120 containers: at most/],
    ] as const) {
      const refused = await slipway.api('PATCH', '/api/apps/picky/formation', body);
      assert.equal(refused.status, 422, JSON.stringify(body));
      assert.match(refused.json.error.message, message);
    }
    const tooMany = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`t${i}`, 0]));
    assert.match((await slipway.api('PATCH', '/api/apps/picky/formation', tooMany)).json.error.message, /at most 20/);
    assert.deepEqual((await slipway.api('GET', '/api/apps/picky/formation')).json, {});
  });

  test("a manifest's formation applies to the first deployment, for the types nobody scaled", async () => {
    assert.equal((await slipway.cli(['apps:create', 'declared'])).code, 0);
    assert.equal((await slipway.cli(['scale', 'worker=1', '-a', 'declared'])).code, 0);
    const manifest = JSON.stringify({ formation: { clock: { quantity: 0 }, worker: { quantity: 3 } } });
    const dir = fixtureCopy('web-worker-hook', { Procfile: PROCFILE, 'app.json': manifest });
    const deployed = await slipway.cli(['deploy', dir, '-a', 'declared']);
    assert.equal(deployed.code, 0, deployed.stdout);
    assert.match(deployed.stdout, /app\.json formation applies to this first deployment: clock=0$/m);
    assert.deepEqual(await names('declared'), ['web-1', 'worker-1'], 'worker stays as scaled');

    // Later deployments leave the formation to `scale`.
    assert.equal((await slipway.cli(['scale', 'clock=1', '-a', 'declared'])).code, 0);
    const again = await slipway.cli(['deploy', dir, '-a', 'declared']);
    assert.equal(again.code, 0, again.stdout);
    assert.doesNotMatch(again.stdout, /formation applies/);
    await settled('declared', ['clock-1', 'web-1', 'worker-1']);
  });

  test('a worker that crashes at boot fails the deployment, saying how to deploy without it', async () => {
    assert.equal((await slipway.cli(['apps:create', 'crashworker'])).code, 0);
    const dir = fixtureCopy('web-worker-hook', {
      // The web takes a second to listen: the worker's crash comes before the switch, as it does in real apps.
      Procfile: 'web: sleep 1 && node server.js\nworker: echo "worker: no queue configured" >&2; exit 2\n',
    });
    const failed = await slipway.cli(['deploy', dir, '-a', 'crashworker']);
    assert.equal(failed.code, 7);
    const { json: list } = await slipway.api('GET', '/api/apps/crashworker/deployments');
    assert.equal(list[0].status, 'crashed-error');
    assert.equal(
      list[0].error.message,
      'worker-1 exited with code 2 during boot; to deploy without it: slipway scale worker=0 -a crashworker',
    );
    assert.match(failed.stdout, /\| worker: no queue configured/);

    // Doing what it says deploys the app.
    assert.equal((await slipway.cli(['scale', 'worker=0', '-a', 'crashworker'])).code, 0);
    const deployed = await slipway.cli(['deploy', dir, '-a', 'crashworker']);
    assert.equal(deployed.code, 0, deployed.stdout);
    await settled('crashworker', ['web-1']);
  });
});
