// A Slipway killed outright leaves its nginx master running (own process
// group); the next start on the same home stops that master instead of
// failing on the busy router port, and the new master gets the route table
// (with live backends: pushed into its fresh shared dict).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../src/router/nginx/master-process.ts';
import { commitAll } from '../helpers/git-fixture.ts';
import { fixtureCopy, routerGet, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';
import { NGINX_SKIP } from './router-helpers.ts';

test('after a crash, the next start replaces the nginx master left behind', { skip: NGINX_SKIP }, async () => {
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
  const stale = Number(fs.readFileSync(pidFile, 'utf8').trim());
  await first.kill();
  assert.doesNotThrow(() => process.kill(stale, 0), 'nginx outlives a SIGKILLed Slipway');

  const second = await startSlipway({ args, home: first.home });
  try {
    await waitFor(() => {
      try {
        process.kill(stale, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the stale nginx master to be gone');
    assert.equal(second.routerPort, port);
    assert.equal((await routerGet(port, 'nope.localhost')).status, 404);
    await waitFor(
      async () => (await routerGet(port, 'shop.localhost')).body === 'v-one web-1\n',
      'the app to answer through the new nginx master',
      10_000,
    );
    assert.notEqual(Number(fs.readFileSync(pidFile, 'utf8').trim()), stale);
  } finally {
    await second.stop();
  }
});
