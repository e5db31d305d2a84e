// The redis add-on through the real CLI: REDIS_URL set through a config
// release and usable from the app's containers, its data kept across a
// SIGKILL of the server (the redis server is adopted), and destroy removing
// the server and the config var.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'cache-app';

/** Pids of the redis servers of this home (their pid files). */
function redisPids(home: string): number[] {
  const dir = path.join(home, 'addons', 'redis');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).flatMap((resource) => {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, resource, 'server', 'redis.pid'), 'utf8'));
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server' ? [pid] : [];
    } catch {
      return [];
    }
  });
}

describe('redis add-on', { timeout: 180_000 }, () => {
  let slipway: Slipway;
  let home = '';
  const redis = (...command: string[]) =>
    slipway.cli(['run', '-a', APP, '--', `redis-cli --no-auth-warning -u "$REDIS_URL" ${command.join(' ')}`]);

  before(async () => {
    slipway = await startSlipway();
    home = slipway.home;
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    const deployed = await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  after(async () => {
    await slipway?.stop({ keepHome: true });
    for (const pid of redisPids(home)) process.kill(pid, 'SIGTERM');
    await waitFor(() => redisPids(home).length === 0, 'redis to stop', 30_000, 50).catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('addons:create redis sets REDIS_URL; one container writes, another reads', async () => {
    const created = await slipway.cli(['addons:create', 'redis', '-a', APP]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created redis add-on REDIS in \d+ ms: set REDIS_URL; restarting cache-app/);
    assert.equal((await redis('SET', 'greeting', 'hello')).stdout, 'OK');
    assert.equal((await redis('GET', 'greeting')).stdout, 'hello');
    const info = await slipway.api('GET', `/api/apps/${APP}/addons/REDIS`);
    assert.equal(info.json.keys, 1);
  });

  test('the redis server outlives a SIGKILL of the server with its data, and stops with a clean stop', async () => {
    const [pid] = redisPids(home);
    assert.ok(pid);
    await slipway.kill();
    assert.deepEqual(redisPids(home), [pid]);
    slipway = await startSlipway({ home });
    assert.equal((await redis('GET', 'greeting')).stdout, 'hello');
    assert.deepEqual(redisPids(home), [pid], 'adopted');
    await slipway.stop({ keepHome: true });
    assert.deepEqual(redisPids(home), [], 'stopped with the server');
    slipway = await startSlipway({ home });
    assert.equal((await redis('GET', 'greeting')).stdout, 'hello', 'saved at its stop, started with the server');
  });

  test('addons:destroy stops the server, removes its data and REDIS_URL', async () => {
    const url = (await slipway.api('GET', `/api/apps/${APP}/env`)).json.REDIS_URL;
    const destroyed = await slipway.cli(['addons:destroy', 'REDIS', '--confirm', APP]);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.equal((await slipway.api('GET', `/api/apps/${APP}/env`)).json.REDIS_URL, undefined);
    assert.deepEqual(redisPids(home), []);
    const gone = await slipway.cli(['run', '-a', APP, '--', `redis-cli --no-auth-warning -u "${url}" PING`]);
    assert.match(`${gone.stdout}${gone.stderr}`, /Connection refused|Could not connect/);
  });
});
