// Deployments that overlap: two clients deploying one app at once, and more
// builds than the build cap across apps. Everything ends final, in order,
// and nothing is lost.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitForValue } from '../helpers/wait.ts';

type Deployment = {
  id: string;
  status: string;
  created_at: string;
  finished_at: string | null;
  steps: { name: string; started_at: string }[];
};

describe('overlapping deployments', () => {
  let slipway: Slipway;
  const deployments = async (app: string): Promise<Deployment[]> =>
    (await slipway.api('GET', `/api/apps/${app}/deployments`)).json;

  before(async () => {
    slipway = await startSlipway({ env: { SLIPWAY_MAX_BUILDS: '1' } });
    for (const app of ['same', 'slowbuild', 'waiter']) assert.equal((await slipway.cli(['apps:create', app])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('two clients deploying the same app at once: both end final, one after the other', async () => {
    const [a, b] = await Promise.all([
      slipway.cli(['deploy', fixtureCopy('web-worker-hook', { 'label.txt': 'from-a\n' }), '-a', 'same']),
      slipway.cli(['deploy', fixtureCopy('web-worker-hook', { 'label.txt': 'from-b\n' }), '-a', 'same']),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const list = (await deployments('same')).reverse();
    assert.deepEqual(
      list.map((d) => d.status),
      ['success', 'success'],
    );
    const [first, second] = list;
    assert.ok(first?.finished_at && second?.steps[0]);
    assert.ok(second.steps[0].started_at >= first.finished_at, 'the second started after the first ended');
    const { json: releases } = await slipway.api('GET', '/api/apps/same/releases');
    assert.equal(releases.length, 2, 'one release each');
    const served = (await routerGet(slipway.routerPort, 'same.localhost')).body.split(' ')[0];
    assert.ok(served === 'from-a' || served === 'from-b');
    assert.equal(releases[0].current, true, 'the deployment that ran last is current');
  });

  test('with SLIPWAY_MAX_BUILDS=1 a second build waits queued until the first build is done', async () => {
    const slow = slipway.cli([
      'deploy',
      fixtureCopy('web-worker-hook', {
        'package.json': JSON.stringify({ name: 'slow', private: true, scripts: { build: 'sleep 3' } }),
      }),
      '-a',
      'slowbuild',
    ]);
    await waitForValue(
      async () => ((await deployments('slowbuild'))[0]?.status === 'building' ? true : undefined),
      'the slow build to start',
      30_000,
    );
    const waiting = slipway.cli(['deploy', fixtureCopy('web-worker-hook'), '-a', 'waiter']);
    const queued = await waitForValue(async () => (await deployments('waiter'))[0], 'the second deployment', 10_000);
    assert.equal(queued.status, 'queued');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal((await deployments('waiter'))[0]?.status, 'queued', 'still waiting for the build slot');
    assert.equal((await deployments('slowbuild'))[0]?.status, 'building');
    const [s, w] = await Promise.all([slow, waiting]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(w.code, 0, w.stderr);
  });
});
