// Config belongs to releases: `env` shows what runs (the live release's
// config) and a change whose deployment failed as failed, never as applied;
// `run` and `restart` use the same live config; the next deployment applies
// the stored change. Rollback restores a release's code and config (or keeps
// today's with --keep-config), says that migrations are not reversed, and asks
// for --force for a release that never went live.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const APP = 'truthful';
const HOST = `${APP}.localhost`;
describe('config that says what runs', () => {
  let slipway: Slipway;
  const cli = (...args: string[]) => slipway.cli([...args, '-a', APP]);
  const served = async () => JSON.parse((await routerGet(slipway.routerPort, HOST)).body);
  const state = async () => (await slipway.api('GET', `/api/apps/${APP}/env/state`)).json;

  before(async () => {
    slipway = await startSlipway();
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(() => slipway?.stop());

  test('before the first deployment, env shows the config the first deployment will use', async () => {
    const set = await cli('env:set', 'JWT_SECRET=first-secret');
    assert.equal(set.stdout, 'Set JWT_SECRET (the app has no release yet: nothing to restart)');
    const env = await cli('env');
    assert.equal(env.stdout, 'JWT_SECRET=first-secret');
    assert.equal(env.stderr, `${APP} has no live release yet: its first deployment uses this config.`);
    const deployed = await cli('deploy', fixtureCopy('needs-secret'));
    assert.equal(deployed.code, 0, deployed.stdout);
    assert.equal((await served()).jwt, 'first-secret');
    assert.equal((await state()).status, 'live');
  });

  test('a config change whose deployment failed is shown as failed; env, run and restart agree on what runs', async () => {
    const unset = await cli('env:unset', 'JWT_SECRET');
    assert.equal(unset.code, 7);
    assert.match(unset.stderr, /crashed-error/);
    assert.match(unset.stderr, /The change is not live: truthful runs with the config it had/);

    const env = await cli('env');
    assert.equal(env.code, 0);
    assert.equal(env.stdout, 'JWT_SECRET=first-secret', 'env shows the config that runs');
    const lines = env.stderr.split('\n');
    assert.match(
      lines[0] ?? '',
      /^The above is v1's config, which runs\. A change is not applied: deployment d-\w+ ended crashed-error:$/,
    );
    assert.equal(lines[1], '  - JWT_SECRET (unset)');
    const json = await state();
    assert.deepEqual(
      [json.status, json.release, json.env, json.unapplied],
      ['failed', 'v1', { JWT_SECRET: 'first-secret' }, { JWT_SECRET: null }],
    );
    assert.equal(json.deployment.status, 'crashed-error');
    assert.deepEqual((await slipway.api('GET', `/api/apps/${APP}/env`)).json, { JWT_SECRET: 'first-secret' });

    // What runs is what env showed: the live release's config, in a one-off and after a restart.
    const run = await slipway.cli(['run', '-a', APP, '--', 'echo "$JWT_SECRET"']);
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, 'first-secret', '']);
    assert.equal((await cli('restart')).code, 0);
    assert.equal((await served()).jwt, 'first-secret');

    // The release of the failed change never went live, and says so.
    const releases = await cli('releases');
    assert.match(releases.stdout, /^v2 \(never live\) /m);
    assert.match(releases.stdout, /^v1 \* /m);
    const { json: list } = await slipway.api('GET', `/api/apps/${APP}/releases`);
    assert.deepEqual(
      list.map((r: { version: string; went_live: boolean }) => [r.version, r.went_live]),
      [
        ['v2', false],
        ['v1', true],
      ],
    );
  });

  test('a rollback to a release that never went live asks for --force', async () => {
    const refused = await cli('rollback', 'v2');
    assert.equal(refused.code, 5);
    assert.equal(
      refused.stderr,
      'error: v2 never went live (its deployment failed or did not finish): roll back to it anyway with --force',
    );
    assert.equal((await state()).status, 'failed', 'nothing changed');
  });

  test('the next deployment applies the stored change with its own', async () => {
    const set = await cli('env:set', 'JWT_SECRET=second-secret', 'MODE=blue');
    assert.equal(set.code, 0, set.stderr);
    const env = await cli('env');
    assert.deepEqual([env.stdout, env.stderr], ['JWT_SECRET=second-secret\nMODE=blue', '']);
    assert.deepEqual(await served(), { jwt: 'second-secret', mode: 'blue' });
  });

  test("rollback restores the release's code and config and says migrations stay; --keep-config keeps today's", async () => {
    // v1 ran with first-secret and no MODE.
    const back = await cli('rollback', 'v1', '--no-hook');
    assert.equal(back.code, 0, back.stdout);
    assert.match(back.stdout, /Restores v1's code and config \(config vars changing: ~JWT_SECRET -MODE\)\./);
    assert.match(back.stdout, /Database migrations are not reversed/);
    assert.doesNotMatch(back.stdout, /second-secret|first-secret/, 'names only, never values');
    assert.deepEqual(await served(), { jwt: 'first-secret', mode: null });
    assert.deepEqual([(await cli('env')).stdout, (await state()).status], ['JWT_SECRET=first-secret', 'live']);

    // v3 is the release with second-secret and MODE=blue: its code, today's config.
    const kept = await cli('rollback', 'v3', '--no-hook', '--keep-config');
    assert.equal(kept.code, 0, kept.stdout);
    assert.match(kept.stdout, /Restores v3's code, with the current config \(--keep-config\)\./);
    assert.deepEqual(await served(), { jwt: 'first-secret', mode: null });

    // --force deploys a never-live release, with its config: here one without JWT_SECRET, which fails
    // and is shown as such, the live config unchanged.
    const forced = await cli('rollback', 'v2', '--no-hook', '--force');
    assert.equal(forced.code, 7);
    const after = await state();
    assert.deepEqual(
      [after.status, after.deployment.kind, after.unapplied],
      ['failed', 'rollback', { JWT_SECRET: null }],
    );
    assert.deepEqual(await served(), { jwt: 'first-secret', mode: null });
  });
});
