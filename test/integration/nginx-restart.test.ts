// A Slipway killed outright leaves its nginx master running (own process
// group); the next start on the same home takes that master over instead of
// failing on the busy router port (it keeps serving what it had meanwhile),
// and gives it the new route table once the apps are routed again.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../src/router/nginx/master-process.ts';
import { commitAll } from '../helpers/git-fixture.ts';
import { fixtureCopy, routerGet, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';
import { NGINX_SKIP } from './router-helpers.ts';

test('after a crash, the next start takes over the nginx master left behind', { skip: NGINX_SKIP }, async () => {
  const port = await freePort('127.0.0.1');
  const args = ['--router', 'nginx', '--router-port', String(port)];
  const first = await startSlipway({ args });
  assert.equal((await first.cli(['apps:create', 'shop'])).code, 0);
  const app = fixtureCopy('web-worker-hook');
  await commitAll(app);
  const deployed = await first.cli(['deploy', app, '-a', 'shop']);
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.equal((await routerGet(port, 'shop.localhost')).body, 'v-one web-1\n');
  const pidFile = path.join(first.home, 'router', 'nginx', 'nginx.pid');
  const left = Number(fs.readFileSync(pidFile, 'utf8').trim());
  await first.kill();
  assert.doesNotThrow(() => process.kill(left, 0), 'nginx outlives a SIGKILLed Slipway');
  // Still listening while no Slipway runs: it answers for apps it does not know.
  assert.equal((await routerGet(port, 'nope.localhost')).status, 404);

  const second = await startSlipway({ args, home: first.home });
  try {
    assert.equal(second.routerPort, port);
    assert.equal((await routerGet(port, 'nope.localhost')).status, 404);
    await waitFor(
      async () => (await routerGet(port, 'shop.localhost')).body === 'v-one web-1\n',
      'the app to answer through the nginx master taken over',
      10_000,
    );
    assert.equal(Number(fs.readFileSync(pidFile, 'utf8').trim()), left, 'the same master serves on');
    // A later change of hostnames (a new app) reloads the master taken over.
    assert.equal((await second.cli(['apps:create', 'other'])).code, 0);
    await waitFor(
      async () => (await routerGet(port, 'other.localhost')).status === 503,
      'the new app to be routed (503: nothing deployed)',
      10_000,
    );
  } finally {
    await second.stop();
  }
  // Gone (or a zombie waiting for whoever adopted the orphan to reap it): no nginx any more.
  const title = (() => {
    try {
      return fs.readFileSync(`/proc/${left}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  assert.doesNotMatch(title, /nginx/, 'a stop ends the master taken over too');
  await assert.rejects(routerGet(port, 'shop.localhost'), 'nothing listens on the router port any more');
});
