// Releases through the real CLI, API and router: rollback (with and without
// the hook), redeploy after a config fix, cancelling a deployment during its
// hook, and custom domains.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processesWith } from '../helpers/runtime-helpers.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitForValue } from '../helpers/wait.ts';

const APP = 'relly';
const HOST = `${APP}.localhost`;

describe('releases, rollback, redeploy, cancel and domains', () => {
  let slipway: Slipway;
  const body = async (urlPath = '/') => (await routerGet(slipway.routerPort, HOST, urlPath)).body;
  const deploy = (label: string, files: Record<string, string> = {}) =>
    slipway.cli(['deploy', fixtureCopy('web-worker-hook', { 'label.txt': `${label}\n`, ...files }), '-a', APP]);

  before(async () => {
    slipway = await startSlipway();
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    assert.equal((await deploy('v-one')).code, 0);
    assert.equal((await deploy('v-two')).code, 0);
    assert.equal((await slipway.cli(['env:set', 'GREETING=hello', '-a', APP])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
  });

  test("rollback v1 serves v1's code and config, runs the hook, and is listed", async () => {
    const result = await slipway.cli(['rollback', 'v1', '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Deploying v4: Rollback to v1/);
    assert.match(result.stdout, /migrating database for relly/, 'the hook ran');
    assert.doesNotMatch(result.stdout, /Building/, 'no rebuild');
    assert.equal(await body(), 'v-one web-1\n');
    assert.equal(JSON.parse(await body('/env')).GREETING, undefined, "v1's config, which had no GREETING");
    const { json: env } = await slipway.api('GET', `/api/apps/${APP}/env`);
    assert.equal(env.GREETING, undefined, 'env shows what runs');

    const releases = await slipway.cli(['releases', '-a', APP]);
    assert.match(releases.stdout, /^v4 \* +Rollback to v1 +\S+ +admin /m);
    assert.match(releases.stdout, /^v3 +Set GREETING config vars/m);
  });

  test('rollback --no-hook skips the hook', async () => {
    const result = await slipway.cli(['rollback', 'v2', '--no-hook', '-a', APP]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /migrating database/);
    assert.equal(await body(), 'v-two web-1\n');
    const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
    assert.equal(json[0].kind, 'rollback');
    assert.equal(json[0].run_hook, false);
    assert.equal(json[0].hook, null);
  });

  test('rollback to a release that does not exist is a clear not-found error', async () => {
    const result = await slipway.cli(['rollback', 'v99', '-a', APP]);
    assert.equal(result.code, 4);
    assert.match(result.stderr, /relly has no release v99/);
    assert.equal((await slipway.cli(['rollback', 'yesterday', '-a', APP])).code, 6);
  });

  test('redeploy after a hook-error fixed in config succeeds without a new build', async () => {
    const hook = 'postdeploy: test -n "$API_KEY" || { echo "API_KEY is not set"; exit 1; }\n';
    const failed = await deploy('v-three', { Procfile: `web: node server.js\n${hook}` });
    assert.equal(failed.code, 7);
    assert.match(failed.stdout, /API_KEY is not set/);
    assert.equal(await body(), 'v-two web-1\n', 'the old release still serves');

    assert.equal((await slipway.cli(['env:set', 'API_KEY=k-123', '-a', APP])).code, 0);
    const result = await slipway.cli(['redeploy', '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Redeploy v\d+/);
    assert.doesNotMatch(result.stdout, /Building/);
    assert.equal(await body(), 'v-three web-1\n');
    assert.equal(JSON.parse(await body('/env')).API_KEY, 'k-123');
  });

  test('cancelling a deployment during its hook ends aborted, kills the hook tree, keeps the old release', async () => {
    const marker = '31337';
    const hook = `postdeploy: sh -c 'sleep ${marker} & echo "hook waiting"; wait'\n`;
    const deployment = deploy('v-four', { Procfile: `web: node server.js\n${hook}` });
    const running = await waitForValue(
      async () => {
        const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
        return json[0]?.step === 'hook' && (await processesWith(marker)).length > 0 ? json[0] : undefined;
      },
      'the hook to run',
      60_000,
    );
    const cancel = await slipway.cli(['deployments:cancel', running.id, '-a', APP]);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /aborted \(stopped at step hook\)/);
    const result = await deployment;
    assert.equal(result.code, 7);
    assert.match(result.stderr, /aborted at step hook: deployment aborted: cancelled by admin/);
    assert.deepEqual(await processesWith(marker), [], "no process of the hook's tree survives");
    assert.equal(await body(), 'v-three web-1\n');

    const replay = await slipway.cli(['deployments:logs', running.id, '-f', '-a', APP]);
    assert.equal(replay.code, 7, 'following a failed deployment exits 7');
    assert.match(replay.stdout, /hook waiting[\s\S]*Deployment failed \(aborted\)/);

    const again = await slipway.cli(['deployments:cancel', running.id, '-a', APP]);
    assert.equal(again.code, 5);
    assert.match(again.stderr, /already ended \(aborted\)/);
  });

  test('a queued deployment can be cancelled before it starts', async () => {
    const slow = deploy('v-five', { Procfile: 'web: node server.js\npostdeploy: sleep 2\n' });
    const queued = await waitForValue(
      async () => {
        const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
        return json[0]?.status === 'starting' ? json[0] : undefined;
      },
      'the first deployment to run',
      60_000,
    );
    assert.ok(queued);
    const second = slipway.cli(['deploy', fixtureCopy('web-worker-hook'), '-a', APP]);
    const waiting = await waitForValue(
      async () => {
        const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
        return json[0]?.status === 'queued' ? json[0] : undefined;
      },
      'a queued deployment',
      30_000,
    );
    const { status, json } = await slipway.api('POST', `/api/apps/${APP}/deployments/${waiting.id}/cancel`);
    assert.equal(status, 200);
    assert.equal(json.status, 'aborted');
    assert.equal((await second).code, 7);
    assert.equal((await slow).code, 0);
    assert.equal(await body(), 'v-five web-1\n');
  });

  test('config values with newlines, quotes, $ and backslashes reach the app byte for byte', async () => {
    const tricky = 'line one\nline "two" \'three\' $HOME `id` \\n $(whoami) ; && ||\ttab é';
    const { status, json } = await slipway.api('PATCH', `/api/apps/${APP}/env`, { TRICKY: tricky });
    assert.equal(status, 200);
    await waitForValue(
      async () => {
        const { json: d } = await slipway.api('GET', `/api/apps/${APP}/deployments/${json.deployment.id}`);
        return d.status === 'success' ? d : undefined;
      },
      'the config deployment',
      30_000,
    );
    assert.equal(JSON.parse(await body('/env')).TRICKY, tricky);
    const { json: env } = await slipway.api('GET', `/api/apps/${APP}/env`);
    assert.equal(env.TRICKY, tricky);
  });

  test('domains: the router serves the app on a custom hostname until it is removed', async () => {
    const added = await slipway.cli(['domains:add', 'WWW.Relly.example', '-a', APP]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Added www\.relly\.example/);
    assert.equal((await routerGet(slipway.routerPort, 'www.relly.example')).body, 'v-five web-1\n');
    assert.deepEqual(JSON.parse((await slipway.cli(['domains', '-a', APP, '--json'])).stdout), [
      { hostname: 'www.relly.example' },
    ]);
    const info = await slipway.cli(['apps:info', '-a', APP]);
    assert.match(info.stdout, /^Domains: +www\.relly\.example$/m);
    assert.match(info.stdout, /^Sizes: +M \(postdeploy hook: M\)$/m);

    assert.equal((await slipway.cli(['apps:create', 'other'])).code, 0);
    const taken = await slipway.cli(['domains:add', 'www.relly.example', '-a', 'other']);
    assert.equal(taken.code, 5);
    for (const bad of ['http://x.example', 'other.localhost', '*.relly.example', 'nodots', '127.0.0.1', '10.0.0.7']) {
      const refused = await slipway.cli(['domains:add', bad, '-a', APP]);
      assert.equal(refused.code, 6, `${bad}: ${refused.stderr}`);
    }
    const address = await slipway.cli(['domains:add', '192.168.1.10', '-a', APP]);
    assert.equal(address.code, 6);
    assert.equal(
      address.stderr.trimEnd(),
      'error: 192.168.1.10 is an IP address, not a domain name: a custom domain is a DNS name such as www.example.com',
    );

    assert.equal((await slipway.cli(['domains:remove', 'www.relly.example', '-a', APP])).code, 0);
    assert.equal((await routerGet(slipway.routerPort, 'www.relly.example')).status, 404);
    assert.equal((await slipway.cli(['domains:remove', 'www.relly.example', '-a', APP])).code, 4);
  });
});
