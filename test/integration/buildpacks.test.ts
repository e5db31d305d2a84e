// Builds through buildpacks (Heroku buildpack API v2), with fixture
// buildpacks written for these tests (test/fixtures/buildpacks): a buildpack
// set with `slipway buildpacks:set` (detect, compile with its cache reused
// by the next build, release's default process types and config var
// defaults, ENV_DIR, .slugignore after the build, builds:clear-cache); two
// chained through `.buildpacks` with the `export` file; BUILDPACK_URL naming a
// git repository on a local git server, its `#ref` fetched once; an app no
// built-in detects and a buildpack whose compile fails (build-error, naming
// the buildpack and its exit code); the API refusing a malformed buildpack.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bareCopy, commitAll, runGit } from '../helpers/git-fixture.ts';
import { type LocalServer, startGitServer } from '../helpers/local-http.ts';
import { fixtureCopy, ROOT, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const BUILDPACKS = path.join(ROOT, 'test', 'fixtures', 'buildpacks');
const counter = path.join(BUILDPACKS, 'counter');
const chained = path.join(BUILDPACKS, 'chained');
const failing = path.join(BUILDPACKS, 'failing');

describe('buildpacks', () => {
  let slipway: Slipway;
  let gitServer: LocalServer;
  const gitRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bp-git-'));

  const deploy = async (app: string, dir: string) => {
    const result = await slipway.cli(['deploy', dir, '-a', app]);
    const [latest] = (await slipway.api('GET', `/api/apps/${app}/deployments`)).json;
    return { ...result, output: `${result.stdout}\n${result.stderr}`, deployment: latest };
  };
  const served = async (app: string) => JSON.parse((await routerGet(slipway.routerPort, `${app}.localhost`)).body);
  const create = async (app: string) => assert.equal((await slipway.cli(['apps:create', app])).code, 0);

  before(async () => {
    // Local buildpack folders and a git server on loopback are off by default; these tests turn both on.
    slipway = await startSlipway({ env: { SLIPWAY_ALLOW_LOCAL_BUILDPACKS: '1', SLIPWAY_ALLOW_PRIVATE_FETCH: '1' } });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bp-repo-'));
    fs.cpSync(counter, work, { recursive: true });
    await commitAll(work, 'counter buildpack');
    assert.equal((await runGit(work, ['tag', 'v1'], { PATH: process.env.PATH ?? '' })).code, 0);
    await bareCopy(work, gitRoot, 'fixtures/counter');
    gitServer = await startGitServer(gitRoot);
  });
  after(async () => {
    await slipway?.stop();
    await gitServer?.close();
    fs.rmSync(gitRoot, { recursive: true, force: true });
  });

  test('a buildpack set on the app: detect, compile, release, ENV_DIR, .slugignore, cache reused, then cleared', async () => {
    const app = 'bp-one';
    await create(app);
    const set = await slipway.cli(['buildpacks:set', counter, '-a', app]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, new RegExp(`^1\\. ${counter}$`, 'm'));
    assert.equal((await slipway.cli(['env:set', 'GREETING=hello', '-a', app])).code, 0);
    const dir = fixtureCopy('buildpack-app');

    const first = await deploy(app, dir);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /-----> Buildpacks from the app's buildpacks \(slipway buildpacks\): /);
    assert.match(first.output, /-----> Counter app detected/);
    assert.match(first.output, /Counter: build 1 with this cache/);
    assert.match(first.output, /\.slugignore removed 1 path/);
    assert.match(first.output, /-----> Slug size: \d/);
    assert.match(first.output, /Default types for .*counter -> ticker \(node ticker\.js\)/);
    assert.match(first.output, /config vars set from the buildpacks' defaults: COUNTER_DEFAULT$/m);
    const body = await served(app);
    assert.equal(body.count, '1');
    assert.equal(body.greeting, 'hello', 'ENV_DIR holds the config vars');
    assert.equal(body.envDir, 'GREETING');
    assert.match(body.vars, /^STACK=slipway-1 APP=bp-one SOURCE_VERSION=/);
    assert.equal(body.junk, false, '.slugignore applies after the build');
    assert.equal(body.counterDefault, 'from-the-buildpack', 'a default the app does not set');
    assert.equal(body.greetingVar, 'hello', 'the app config wins over a default');
    // The release's default type the Procfile lacks runs; the Procfile's web wins.
    const ps = await slipway.api('GET', `/api/apps/${app}/containers`);
    assert.deepEqual(ps.json.map((c: { type: string }) => c.type).sort(), ['ticker', 'web']);
    const env = await slipway.cli(['env', '-a', app]);
    assert.match(env.stdout, /COUNTER_DEFAULT/);

    const second = await deploy(app, dir);
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /Counter: build 2 with this cache/);
    assert.match(second.output, /-----> Build cache: [\d.]+ KiB in 1 buildpack cache\(s\) \(cap 1\.00 GiB\)/);
    assert.equal((await served(app)).count, '2', "the buildpack's CACHE_DIR was kept");

    const cleared = await slipway.cli(['builds:clear-cache', '-a', app]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /Cleared the build cache of bp-one/);
    const third = await deploy(app, dir);
    assert.equal(third.code, 0, third.output);
    assert.match(third.output, /-----> Build cache: empty \(a first build, or cleared by builds:clear-cache\)/);
    assert.match(third.output, /Counter: build 1 with this cache/);
  });

  test('a build cache over its cap loses its oldest buildpack cache before the next build (sandboxed: its image)', async () => {
    const small = await startSlipway({
      env: { SLIPWAY_ALLOW_LOCAL_BUILDPACKS: '1', SLIPWAY_BUILD_CACHE_MAX: '1kb' },
    });
    try {
      assert.equal((await small.cli(['apps:create', 'bp-cap'])).code, 0);
      assert.equal((await small.cli(['buildpacks:set', counter, '-a', 'bp-cap'])).code, 0);
      const dir = fixtureCopy('buildpack-app');
      for (const build of [1, 2]) {
        const result = await small.cli(['deploy', dir, '-a', 'bp-cap']);
        assert.equal(result.code, 0, result.stdout);
        assert.match(result.stdout, /Counter: build 1 with this cache/, `build ${build} started from an empty cache`);
        if (build === 2) assert.match(result.stdout, /build cache over its cap: removed the oldest buildpack cache/);
      }
    } finally {
      await small.stop();
    }
  });

  test("two buildpacks chained through .buildpacks: the second sees the first one's export", async () => {
    const app = 'bp-chain';
    await create(app);
    const dir = fixtureCopy('buildpack-app', { '.buildpacks': `# counter first\n${counter}\n\n${chained}\n` });
    const result = await deploy(app, dir);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /-----> Buildpacks from \.buildpacks: /);
    assert.match(result.output, /Chained: COUNTER_TOOL=counted-1/);
    assert.equal((await served(app)).chain, 'counted-1');
  });

  test('BUILDPACK_URL names a git repository: #ref is fetched once, then the commit is reused', async () => {
    const app = 'bp-git';
    await create(app);
    const url = `${gitServer.url}/fixtures/counter.git#v1`;
    assert.equal((await slipway.cli(['env:set', `BUILDPACK_URL=${url}`, '-a', app])).code, 0);
    const dir = fixtureCopy('buildpack-app');
    const first = await deploy(app, dir);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /-----> Buildpacks from BUILDPACK_URL: /);
    assert.match(first.output, /fetched http:\/\/127\.0\.0\.1:\d+\/fixtures\/counter\.git at [0-9a-f]{12}/);
    const fetches = () => gitServer.requests.filter((r) => r.method === 'POST').length;
    const afterFirst = fetches();

    const second = await deploy(app, dir);
    assert.equal(second.code, 0, second.output);
    assert.match(
      second.output,
      /using http:\/\/127\.0\.0\.1:\d+\/fixtures\/counter\.git at [0-9a-f]{12} \(fetched before\)/,
    );
    assert.equal((await served(app)).count, '2');
    // Only the ref was asked again (ls-remote), no objects were fetched.
    assert.ok(fetches() - afterFirst <= 1, `${fetches() - afterFirst} POSTs on the second deploy`);
    const kept = fs.readdirSync(path.join(slipway.home, 'buildpacks'));
    assert.equal(kept.length, 1);
    assert.equal(fs.readdirSync(path.join(slipway.home, 'buildpacks', kept[0] as string)).length, 1);
  });

  test('an app no built-in detects ends build-error, naming the built-ins tried', async () => {
    const app = 'bp-none';
    await create(app);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bp-none-'));
    fs.writeFileSync(path.join(dir, 'README.md'), 'nothing to run\n');
    const result = await deploy(app, dir);
    assert.notEqual(result.code, 0);
    assert.equal(result.deployment.status, 'build-error');
    assert.match(
      result.deployment.error.message,
      /no buildpack detected this app \(tried nodejs, (static, )?inline, procfile\)/,
    );
  });

  test('a failing compile ends build-error, naming the buildpack and its exit code', async () => {
    const app = 'bp-fail';
    await create(app);
    assert.equal((await slipway.cli(['buildpacks:add', failing, '-a', app])).code, 0);
    const result = await deploy(app, fixtureCopy('buildpack-app'));
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Failing: about to exit 7/);
    assert.equal(result.deployment.status, 'build-error');
    assert.equal(result.deployment.error.message, `buildpack ${failing}: bin/compile exited with code 7`);
  });

  test('the buildpacks API: listed, set, refused when malformed, cleared', async () => {
    const app = 'bp-api';
    await create(app);
    assert.deepEqual((await slipway.api('GET', `/api/apps/${app}/buildpacks`)).json, { buildpacks: [] });
    const set = await slipway.api('PUT', `/api/apps/${app}/buildpacks`, {
      buildpacks: ['heroku/nodejs', 'https://example.com/bp.git#v2'],
    });
    assert.equal(set.status, 200);
    assert.deepEqual(set.json.buildpacks, ['heroku/nodejs', 'https://example.com/bp.git#v2']);
    for (const bad of [
      'heroku/cobol',
      'ftp://example.com/bp',
      'https://u:p@example.com/bp.git',
      'https://x.org/bp#--upload-pack=x',
    ]) {
      const refused = await slipway.api('PUT', `/api/apps/${app}/buildpacks`, { buildpacks: [bad] });
      assert.equal(refused.status, 422, bad);
      assert.equal(refused.json.error.code, 'buildpack.invalid');
    }
    assert.equal((await slipway.api('GET', '/api/apps/nope/buildpacks')).status, 404);
    const cli = await slipway.cli(['buildpacks:add', 'procfile', '--index', '1', '-a', app]);
    assert.match(cli.stdout, /^1\. procfile\n2\. heroku\/nodejs\n3\. https:\/\/example\.com\/bp\.git#v2$/m);
    const cleared = await slipway.cli(['buildpacks:clear', '-a', app]);
    assert.match(cleared.stdout, /has no buildpacks set/);
    assert.equal((await slipway.api('DELETE', `/api/apps/nope/build-cache`)).status, 404);
  });
});
