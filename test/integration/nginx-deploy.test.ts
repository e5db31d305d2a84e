// End to end with `slipway server --router nginx`: Slipway runs its own nginx
// master under $SLIPWAY_HOME/router/nginx, apps answer through it, and a
// redeploy under load switches traffic without a failed request.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { findLuaModules } from '../../src/router/nginx/live-backends.ts';
import { workerPids } from '../../src/router/nginx/master-process.ts';
import { commitAll } from '../helpers/git-fixture.ts';
import { fixtureCopy, loadLoop, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { NGINX_SKIP } from './router-helpers.ts';

const APP = 'shop';
const HOST = `${APP}.localhost`;
/** With nginx's Lua module (CI installs it) deployments push backends live instead of reloading. */
const LIVE = 'modules' in findLuaModules();

describe('a server started with --router nginx', { skip: NGINX_SKIP }, () => {
  let slipway: Slipway;

  before(async () => {
    slipway = await startSlipway({ args: ['--router', 'nginx'] });
    const created = await slipway.cli(['apps:create', APP]);
    assert.equal(created.code, 0, created.stderr);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('nginx serves the route table: 503 before the first deployment, 404 for unknown hosts', async () => {
    const conf = fs.readFileSync(path.join(slipway.home, 'router', 'nginx', 'nginx.conf'), 'utf8');
    assert.match(conf, new RegExp(`server_name ${HOST.replace('.', '\\.')};`));
    const reply = await routerGet(slipway.routerPort, HOST);
    assert.equal(reply.status, 503);
    assert.match(reply.body, /shop has no running web process/);
    assert.equal((await routerGet(slipway.routerPort, 'nope.localhost')).status, 404);
  });

  test('a deployment is served through nginx as soon as it succeeds', async () => {
    const dir = fixtureCopy('web-worker-hook');
    await commitAll(dir);
    const result = await slipway.cli(['deploy', dir, '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.equal((await routerGet(slipway.routerPort, HOST)).body, 'v-one web-1\n');
  });

  test('a failed and then a successful redeploy under load lose no request', async (t) => {
    const failing = fixtureCopy('web-worker-hook', {
      'label.txt': 'v-two\n',
      Procfile: 'web: node server.js\nworker: node worker.js\npostdeploy: exit 1\n',
    });
    const deploy = slipway.cli(['deploy', failing, '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: deploy, minRequests: 500 });
    assert.notEqual((await deploy).code, 0);
    assert.deepEqual(load.failures, [], 'a failed deployment does not even reload nginx');
    assert.deepEqual([...load.bodies.keys()], ['v-one']);

    const fixed = fixtureCopy('web-worker-hook', { 'label.txt': 'v-three\n' });
    const nginxDir = path.join(slipway.home, 'router', 'nginx');
    const master = Number(fs.readFileSync(path.join(nginxDir, 'nginx.pid'), 'utf8').trim());
    const workers = workerPids(master).sort();
    const redeploy = slipway.cli(['deploy', fixed, '-a', APP]);
    if (LIVE) {
      // The switch only changes nginx's shared dict: no reload, so no
      // keep-alive client connection is closed and no request fails.
      // On a little after the deployment ends: requests between the switch and the CLI's return may be none.
      const switched = await loadLoop({
        port: slipway.routerPort,
        host: HOST,
        until: redeploy.then(() => delay(500)),
        minRequests: 500,
      });
      const result = await redeploy;
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.deepEqual(switched.failures, []);
      assert.ok(switched.bodies.has('v-three'), 'the new version answered during the load');
      assert.deepEqual(workerPids(master).sort(), workers, 'nginx was not reloaded');
    } else {
      // Without the Lua module a switch reloads nginx, whose old workers
      // close idle keep-alive connections: GETs that lose that race are
      // retried once, as browsers do (RFC 9112 §9.3.1). Fresh connections never fail.
      const retried = await retryingLoad(slipway.routerPort, redeploy);
      const result = await redeploy;
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.deepEqual(retried.failures, []);
      assert.ok(retried.bodies.has('v-three'), 'the new version answered during the load');
      t.diagnostic(`${retried.total} requests, ${retried.retries} retried once after a reload`);
    }
    assert.equal((await routerGet(slipway.routerPort, HOST)).body, 'v-three web-1\n');
  });

  test('stopping the server stops its nginx', async () => {
    const pidFile = path.join(slipway.home, 'router', 'nginx', 'nginx.pid');
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    assert.ok(pid > 0);
    await slipway.stop({ keepHome: true });
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    // after() removes the home.
  });
});

/** Like loadLoop (8 keep-alive workers), but a failed GET is retried once. */
async function retryingLoad(port: number, until: Promise<unknown>) {
  let done = false;
  until.finally(() => {
    done = true;
  });
  const result = { total: 0, retries: 0, failures: [] as string[], bodies: new Set<string>() };
  const deadline = Date.now() + 120_000;
  const get = () => routerGet(port, HOST);
  const worker = async () => {
    while ((!done || result.total < 500) && Date.now() < deadline) {
      result.total++;
      try {
        const reply = await get().catch(() => {
          result.retries++;
          return get();
        });
        if (reply.status !== 200) result.failures.push(`${reply.status} ${reply.body.slice(0, 80)}`);
        result.bodies.add(reply.body.split(' ')[0] ?? '');
      } catch (err) {
        result.failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return result;
}
