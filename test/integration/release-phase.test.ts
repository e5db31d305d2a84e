// Heroku's release phase: a Procfile's `release:` runs once, in a one-off
// container of the new release (`release-1`), before any new container boots,
// on builds, config changes and rollbacks alike, and before the postdeploy hook when
// both are declared; it is never started as a process type; when it fails,
// the current release keeps serving every request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, loadLoop, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const APP = 'releasing';
const HOST = `${APP}.localhost`;
const PROCFILE = [
  'web: node server.js',
  'release: echo "release phase in $CONTAINER of $APP at $CONTAINER_VERSION"; test -z "$FAIL_RELEASE"',
  'postdeploy: echo "postdeploy hook after the release phase"',
  '',
].join('\n');

describe('the release phase', () => {
  let slipway: Slipway;
  // biome-ignore lint/suspicious/noExplicitAny: API JSON
  const latest = async (): Promise<any> => (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json[0];
  const logOf = async (id: string) =>
    String((await slipway.api('GET', `/api/apps/${APP}/deployments/${id}/logs`)).json);

  before(async () => {
    slipway = await startSlipway();
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(() => slipway?.stop());

  test('runs once before the containers boot, then the postdeploy hook; it is no process type', async () => {
    const result = await slipway.cli(['deploy', fixtureCopy('web-worker-hook', { Procfile: PROCFILE }), '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const out = result.stdout;
    assert.match(out, /Procfile declares a release phase/);
    assert.match(out, /^ +release phase in release-1 of releasing at v1$/m);
    const order = ['-----> Running release phase', '-----> Starting containers', '-----> Running postdeploy hook'];
    const positions = order.map((header) => out.indexOf(header));
    assert.ok(
      positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] as number))),
      positions.join(' '),
    );
    assert.equal(out.match(/release phase in release-1/g)?.length, 1, 'once');
    const deployment = await latest();
    assert.deepEqual(deployment.steps.map((s: { name: string }) => s.name).slice(0, 6), [
      'fetch',
      'build',
      'slug',
      'release',
      'boot',
      'hook',
    ]);
    const { json: containers } = await slipway.api('GET', `/api/apps/${APP}/containers`);
    assert.deepEqual(
      containers.map((c: { name: string }) => c.name),
      ['web-1'],
    );
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200);
  });

  test('a config change runs it too (not the postdeploy hook)', async () => {
    assert.equal((await slipway.cli(['env:set', 'GREETING=hi', '-a', APP])).code, 0);
    const deployment = await latest();
    assert.equal(deployment.kind, 'config');
    assert.equal(deployment.status, 'success');
    const log = await logOf(deployment.id);
    assert.match(log, /release phase in release-1 of releasing at v2/);
    assert.doesNotMatch(log, /postdeploy hook after the release phase/);
  });

  test('a failing release phase ends hook-error; the current release serves every request meanwhile', async () => {
    const failing = slipway.cli(['env:set', 'FAIL_RELEASE=1', '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: failing, minRequests: 200 });
    assert.equal((await failing).code, 7);
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.total} requests failed`);
    const deployment = await latest();
    assert.equal(deployment.status, 'hook-error');
    assert.equal(deployment.step, 'release');
    assert.equal(deployment.error.code, 'deploy.release_failed');
    assert.match(deployment.error.message, /release phase exited with code 1/);
    assert.doesNotMatch(await logOf(deployment.id), /Starting containers/, 'nothing booted');
    const { json: env } = await slipway.api('GET', `/api/apps/${APP}/env`);
    assert.equal(env.GREETING, 'hi');
  });

  test('a rollback runs it too, once the config lets it pass', async () => {
    assert.equal((await slipway.cli(['env:unset', 'FAIL_RELEASE', '-a', APP])).code, 0);
    const result = await slipway.cli(['rollback', 'v1', '-a', APP]);
    assert.equal(result.code, 0, result.stdout);
    const deployment = await latest();
    assert.equal(deployment.kind, 'rollback');
    assert.match(await logOf(deployment.id), /release phase in release-1 of releasing at v5/);
  });
});
