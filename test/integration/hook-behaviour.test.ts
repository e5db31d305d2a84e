// The hook as documented in docs/postdeploy-hook.md: its command sources and
// their precedence, shell semantics, its exact environment, and each example.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startThirdParty } from '../helpers/outside-host.ts';
import { fixtureCopy, ROOT, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const WEB = 'web: node server.js\n';

describe('the postdeploy hook', () => {
  let slipway: Slipway;
  before(async () => {
    slipway = await startSlipway();
  });
  after(async () => {
    await slipway?.stop();
  });

  async function deploy(app: string, files: Record<string, string>) {
    const dir = fixtureCopy('manifest-hook', files);
    const result = await slipway.cli(['deploy', dir, '-a', app]);
    const { json: list } = await slipway.api('GET', `/api/apps/${app}/deployments`);
    return { result, deployment: list[0] };
  }

  test('app.json: first-deploy on the first success only, then scripts.postdeploy; the Procfile wins', async () => {
    assert.equal((await slipway.cli(['apps:create', 'manifested'])).code, 0);
    const first = await deploy('manifested', {});
    assert.equal(first.result.code, 0, first.result.stderr);
    assert.match(first.result.stdout, /app\.json first-deploy: seeding data/);
    assert.equal(first.deployment.hook.source, 'app.json scripts.first-deploy');

    const second = await deploy('manifested', {});
    assert.equal(second.result.code, 0, second.result.stderr);
    assert.match(second.result.stdout, /app\.json postdeploy on postdeploy-1/);
    assert.doesNotMatch(second.result.stdout, /seeding data/);
    assert.equal(second.deployment.hook.source, 'app.json scripts.postdeploy');

    const third = await deploy('manifested', { Procfile: `${WEB}postdeploy: echo "procfile hook wins"\n` });
    assert.equal(third.result.code, 0, third.result.stderr);
    assert.match(third.result.stdout, /procfile hook wins/);
    assert.doesNotMatch(third.result.stdout, /app\.json postdeploy on/);
    assert.equal(third.deployment.hook.source, 'Procfile');
  });

  test('first-deploy is retried until a deployment succeeds', async () => {
    assert.equal((await slipway.cli(['apps:create', 'seeded'])).code, 0);
    const manifest = (first: string) =>
      JSON.stringify({ scripts: { postdeploy: 'echo regular hook', 'first-deploy': first } });
    const failed = await deploy('seeded', { 'app.json': manifest('echo seeding && exit 4') });
    assert.equal(failed.deployment.status, 'hook-error');
    assert.equal(failed.deployment.hook.exit_code, 4);
    const retried = await deploy('seeded', { 'app.json': manifest('echo seeding again') });
    assert.equal(retried.deployment.status, 'success');
    assert.match(retried.result.stdout, /seeding again/);
  });

  test('runs through /bin/sh: || fallbacks, && chains and $VARIABLES behave as in sh', async () => {
    assert.equal((await slipway.cli(['apps:create', 'shelly'])).code, 0);
    assert.equal((await slipway.cli(['env:set', 'GREETING=hi there', '-a', 'shelly'])).code, 0);
    const { result, deployment } = await deploy('shelly', {
      'app.json': '{}',
      Procfile: `${WEB}postdeploy: false || echo "fallback ran" && echo "greeting=$GREETING app=$APP" && test -z "$UNSET_VAR" && echo 'single $QUOTED'\n`,
    });
    assert.equal(deployment.status, 'success', result.stdout);
    assert.match(result.stdout, /fallback ran/);
    assert.match(result.stdout, /greeting=hi there app=shelly/);
    assert.match(result.stdout, /single \$QUOTED/);
  });

  test('sees exactly the app environment plus APP, CONTAINER and CONTAINER_VERSION', async () => {
    assert.equal((await slipway.cli(['apps:create', 'envcheck'])).code, 0);
    assert.equal((await slipway.cli(['env:set', 'DATABASE_URL=postgres://db/x', '-a', 'envcheck'])).code, 0);
    const { result, deployment } = await deploy('envcheck', {
      'app.json': '{}',
      Procfile: `${WEB}postdeploy: env | sort | sed 's/^/ENV /' && npm config get update-notifier | sed 's/^/NPM update-notifier=/'\n`,
    });
    assert.equal(deployment.status, 'success', result.stdout);
    const env = Object.fromEntries(
      [...result.stdout.matchAll(/ENV ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)].map((m) => [m[1], m[2]]),
    );
    assert.equal(env.DATABASE_URL, 'postgres://db/x', result.stdout);
    assert.equal(env.APP, 'envcheck');
    assert.equal(env.CONTAINER, 'postdeploy-1');
    assert.equal(env.CONTAINER_VERSION, 'v1', 'the release version when no commit is known');
    assert.equal(env.DYNO, 'postdeploy.1');
    assert.equal(env.PORT, undefined, 'the hook does not serve traffic');
    assert.equal(env.SLIPWAY_TOKEN, undefined);
    assert.equal(env.SLIPWAY_URL, undefined);
    // npm's "new version available" notice never reaches the hook's output (nor the app's).
    assert.equal(env.npm_config_update_notifier, 'false');
    assert.match(result.stdout, /^ *NPM update-notifier=false$/m);
    // Where the runtime enforces sizes (the sandbox), the hook is told its own: M by default.
    if (env.CONTAINER_MEMORY !== undefined) assert.equal(env.CONTAINER_MEMORY, String(512 * 1024 * 1024));
    const allowed = new Set([
      'CONTAINER_MEMORY',
      'DATABASE_URL',
      'APP',
      'CONTAINER',
      'CONTAINER_VERSION',
      'DYNO',
      'PATH',
      'HOME',
      'npm_config_update_notifier',
      'PWD',
      'SHLVL',
      '_',
    ]);
    assert.deepEqual(
      Object.keys(env).filter((k) => !allowed.has(k)),
      [],
      'nothing else in the environment',
    );
  });

  test('app.json buildpacks run the build and are recorded with the release; unknown add-ons are said to be not provisioned', async () => {
    assert.equal((await slipway.cli(['apps:create', 'declared'])).code, 0);
    const manifest = {
      scripts: { postdeploy: 'echo ok' },
      buildpacks: [{ url: 'heroku/procfile' }],
      addons: ['mailgun:starter', { plan: 'papertrail' }],
    };
    const { result, deployment } = await deploy('declared', { 'app.json': JSON.stringify(manifest) });
    assert.equal(deployment.status, 'success', result.stdout);
    assert.match(result.stdout, /^-----> Buildpacks from app\.json buildpacks: heroku\/procfile$/m);
    assert.match(result.stdout, /^-----> Using buildpack: procfile$/m);
    assert.match(result.stdout, /^-----> app\.json lists add-on "mailgun:starter": not provisioned: unknown add-on/m);
    assert.match(result.stdout, /^-----> app\.json lists add-on "papertrail": not provisioned: unknown add-on/m);
    assert.match(result.stdout, /app\.json add-ons recorded with the release: mailgun:starter, papertrail$/m);
    const { json: releases } = await slipway.api('GET', '/api/apps/declared/releases');
    assert.deepEqual(releases[0].addons, ['mailgun:starter', 'papertrail']);
    assert.deepEqual(releases[0].buildpacks, ['heroku/procfile']);
  });

  test('docs example: notify a third party with curl and $CONTAINER_VERSION', async () => {
    // The tracker is a host outside (its own network namespace): containers reach the internet, not the host.
    const tracker = await startThirdParty();
    try {
      const url = `http://${tracker.address}:${tracker.port}/deploys`;
      assert.equal((await slipway.cli(['apps:create', 'notifier'])).code, 0);
      assert.equal((await slipway.cli(['env:set', `TRACKER_URL=${url}`, '-a', 'notifier'])).code, 0);
      const { deployment, result } = await deploy('notifier', {
        'app.json': '{}',
        Procfile: `${WEB}postdeploy: curl -fsS -X POST "$TRACKER_URL" -d "app=$APP&revision=$CONTAINER_VERSION"\n`,
      });
      assert.equal(deployment.status, 'success', result.stdout);
      assert.deepEqual(await tracker.waitForRequests(1), [
        { method: 'POST', path: '/deploys', body: 'app=notifier&revision=v1' },
      ]);
    } finally {
      await tracker.close();
    }
  });

  test("the README's example app deploys in one command (deploy --create)", async () => {
    const result = await slipway.cli(['deploy', `${ROOT}/examples/hello`, '-a', 'hello', '--create']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Created app hello/);
    assert.match(result.stdout, /no DATABASE_URL set: 1 migration\(s\) to apply/);
    // In a git checkout of Slipway (CI's clone), the example is a directory of that work tree: its
    // commit is the version (marked -dirty when the checkout has changes); elsewhere the release's.
    const { json: deployments } = await slipway.api('GET', '/api/apps/hello/deployments');
    const version = deployments[0].commit_sha ?? 'v1';
    assert.match(version, /^(v1|[0-9a-f]{40}(-dirty)?)$/);
    assert.match(result.stdout, new RegExp(`hello is ready at revision ${version}\n`));
    const res = await routerGet(slipway.routerPort, 'hello.localhost');
    assert.equal(res.body, `Hello from hello (web-1, version ${version})\n`);
  });
});
