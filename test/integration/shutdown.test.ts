// Graceful shutdown and restart: SIGTERM during a postdeploy hook stops the
// server within its bound, the deployment ends `aborted` with the reason, no
// process of the hook survives, and after a restart the old release serves.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { processesWith } from '../helpers/runtime-helpers.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitForValue } from '../helpers/wait.ts';

describe('server shutdown and restart', () => {
  let slipway: Slipway | undefined;
  after(async () => {
    await slipway?.stop();
  });

  test('SIGTERM during a hook: exits within the bound, the deployment ends aborted, v1 serves after restart', async () => {
    const first = await startSlipway();
    slipway = first;
    const home = first.home;
    assert.equal((await slipway.cli(['apps:create', 'steady'])).code, 0);
    assert.equal((await slipway.cli(['deploy', fixtureCopy('web-worker-hook'), '-a', 'steady'])).code, 0);

    const marker = '42421';
    const deploy = slipway.cli([
      'deploy',
      fixtureCopy('web-worker-hook', {
        'label.txt': 'v-two\n',
        Procfile: `web: node server.js\npostdeploy: sh -c 'sleep ${marker} & wait'\n`,
      }),
      '-a',
      'steady',
    ]);
    const running = await waitForValue(
      async () => {
        const { json } = await first.api('GET', '/api/apps/steady/deployments');
        return json[0]?.step === 'hook' && (await processesWith(marker)).length > 0 ? json[0] : undefined;
      },
      'the hook to run',
      60_000,
    );

    const t0 = Date.now();
    await slipway.stop({ keepHome: true });
    const stopMs = Date.now() - t0;
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n');
    assert.deepEqual(
      mounts.filter((l) => l.includes(home)),
      [],
      'every container view is unmounted',
    );
    assert.ok(stopMs < 10_000, `stopped in ${stopMs} ms`);
    assert.deepEqual(await processesWith(marker), [], 'the hook was killed with its tree');
    assert.notEqual((await deploy).code, 0);

    // What a crash mid-upload or mid-fetch leaves behind: a half-received archive, a git fetch.
    const builds = path.join(home, 'builds');
    fs.writeFileSync(path.join(builds, 'upload-0123456789abcdef.tar.gz'), 'half an upload');
    fs.mkdirSync(path.join(builds, 'fetch-0123456789abcdef.git'));

    const second = await startSlipway({ home });
    slipway = second;
    assert.deepEqual(fs.readdirSync(builds), [], 'nothing of the earlier run is left in builds/');
    const { json: d } = await slipway.api('GET', `/api/apps/steady/deployments/${running.id}`);
    assert.equal(d.status, 'aborted');
    assert.equal(d.step, 'hook');
    assert.match(d.error.message, /control-plane shutdown/);
    const res = await waitForValue(
      async () => {
        const r = await routerGet(second.routerPort, 'steady.localhost');
        return r.status === 200 ? r : undefined;
      },
      'v1 to serve again',
      5_000,
    );
    assert.equal(res.body, 'v-one web-1\n');
    const next = await slipway.cli([
      'deploy',
      fixtureCopy('web-worker-hook', { 'label.txt': 'v-three\n' }),
      '-a',
      'steady',
    ]);
    assert.equal(next.code, 0, next.stderr);
  });
});
