// A hook that runs past its timeout is killed with every process it started.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processesWith } from '../helpers/runtime-helpers.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

describe('postdeploy hook timeout', () => {
  let slipway: Slipway;
  before(async () => {
    slipway = await startSlipway({ args: ['--hook-timeout', '2s'] });
  });
  after(async () => {
    await slipway?.stop();
  });

  test('is killed with its children and ends hook-error; the old release keeps serving', async () => {
    assert.equal((await slipway.cli(['apps:create', 'slowhook'])).code, 0);
    const good = await slipway.cli(['deploy', fixtureCopy('manifest-hook', { 'app.json': '{}' }), '-a', 'slowhook']);
    assert.equal(good.code, 0, good.stderr);

    const marker = `${600 + Math.floor(Math.random() * 1000) / 1000}`;
    const dir = fixtureCopy('manifest-hook', {
      'app.json': '{}',
      Procfile: `web: node server.js\npostdeploy: echo "starting a long job" && sleep ${marker} & sleep ${marker}\n`,
    });
    const result = await slipway.cli(['deploy', dir, '-a', 'slowhook']);
    assert.equal(result.code, 7);
    assert.match(result.stdout, /starting a long job/);
    const { json: list } = await slipway.api('GET', '/api/apps/slowhook/deployments');
    assert.equal(list[0].status, 'hook-error');
    assert.equal(list[0].error.code, 'deploy.hook_timeout');
    assert.match(list[0].error.message, /timeout of 2\.0s/);
    assert.equal(list[0].hook.exit_code, null);
    assert.deepEqual(await processesWith(marker), [], 'no process of the hook survives');
    assert.equal((await routerGet(slipway.routerPort, 'slowhook.localhost')).body, 'manifest app\n');
  });

  test('a per-app timeout (apps:update --hook-timeout) overrides the server default', async () => {
    assert.equal((await slipway.cli(['apps:create', 'quickhook'])).code, 0);
    const set = await slipway.cli(['apps:update', '--hook-timeout', '1s', '-a', 'quickhook']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /set to 1s/);
    const bad = await slipway.cli(['apps:update', '--hook-timeout', 'soon', '-a', 'quickhook']);
    assert.equal(bad.code, 6);
    const dir = fixtureCopy('manifest-hook', {
      'app.json': '{}',
      Procfile: 'web: node server.js\npostdeploy: sleep 1.7\n',
    });
    const result = await slipway.cli(['deploy', dir, '-a', 'quickhook']);
    assert.equal(result.code, 7);
    const { json: list } = await slipway.api('GET', '/api/apps/quickhook/deployments');
    assert.match(list[0].error.message, /timeout of 1\.0s/);
  });
});
