// Deploying from a URL, against real local HTTP servers: a GitHub-style
// tarball (one top folder) is unwrapped and deployed by `slipway deploy URL`;
// a git repository URL + ref is fetched with git; a hostile tarball, a URL
// that is not http(s), and a download that fails are refused before any
// deployment exists.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create } from 'tar';
import { runChecked } from '../../src/exec/index.ts';
import { commitAll } from '../helpers/git-fixture.ts';
import { rawTarball } from '../helpers/hostile-tarball.ts';
import { type LocalServer, startGitServer, startRecorder } from '../helpers/local-http.ts';
import { baseEnv, fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const APP = 'fromurl';
const HOST = `${APP}.localhost`;

describe('deploying from a URL', () => {
  let slipway: Slipway;
  let files: LocalServer;
  let gitServer: LocalServer;
  const served = new Map<string, Buffer>();
  const gitRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-git-root-'));
  let gitSha = '';

  const label = async () => (await routerGet(slipway.routerPort, HOST)).body.split(' ')[0];
  const deploymentCount = async () => (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json.length as number;

  before(async () => {
    // The file and git servers below are on loopback, which URL deploys refuse unless allowed.
    slipway = await startSlipway({ env: { SLIPWAY_ALLOW_PRIVATE_FETCH: '1' } });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    files = await startRecorder((req) => {
      const body = served.get(req.url);
      return body ? { status: 200, body, type: 'application/gzip' } : { status: 404, body: 'not found' };
    });

    // GitHub-style tarball: everything inside one top folder.
    const app = fixtureCopy('web-worker-hook', { 'label.txt': 'v-tarball\n' });
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-url-'));
    const top = path.join(parent, 'acme-shop-0123abc');
    fs.renameSync(app, top);
    const tarball = path.join(parent, 'main.tar.gz');
    await create({ gzip: true, cwd: parent, portable: true, file: tarball }, [path.basename(top)]);
    served.set('/acme/shop/archive/main.tar.gz', fs.readFileSync(tarball));
    served.set(
      '/evil.tar.gz',
      rawTarball([
        { path: 'Procfile', body: 'web: x\n' },
        { path: '../escape', body: 'x' },
      ]),
    );

    // A git repository served over smart HTTP, as github.com serves clone URLs.
    const work = fixtureCopy('web-worker-hook', { 'label.txt': 'v-git\n' });
    gitSha = await commitAll(work, 'from git');
    fs.mkdirSync(path.join(gitRoot, 'acme'));
    await runChecked(['git', 'clone', '-q', '--bare', work, path.join(gitRoot, 'acme', 'shop.git')], {
      env: baseEnv({ GIT_CONFIG_NOSYSTEM: '1' }),
    });
    gitServer = await startGitServer(gitRoot);
  });
  after(async () => {
    await slipway?.stop();
    await files?.close();
    await gitServer?.close();
  });

  test('slipway deploy <tarball URL> unwraps the single top folder and deploys it', async () => {
    const result = await slipway.cli(['deploy', `${files.url}/acme/shop/archive/main.tar.gz`, '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Fetched http:\/\/127\.0\.0\.1:\d+\/acme\/shop\/archive\/main\.tar\.gz/);
    assert.equal(await label(), 'v-tarball');
    const [latest] = (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
    assert.equal(latest.source, 'url');
  });

  test('a git repository URL with a ref is fetched with git; the commit is recorded', async () => {
    const result = await slipway.cli(['deploy', `${gitServer.url}/acme/shop.git`, '--ref', 'main', '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`Commit ${gitSha} by Slipway Test`));
    assert.equal(await label(), 'v-git');
    const [latest] = (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
    assert.equal(latest.commit_sha, gitSha);
    assert.equal(latest.git_ref, 'main');
  });

  test('a tarball with ../ entries is refused with source.unsafe_path, no deployment created', async () => {
    const before = await deploymentCount();
    const res = await slipway.api('POST', `/api/apps/${APP}/deployments`, { source_url: `${files.url}/evil.tar.gz` });
    assert.equal(res.status, 422);
    assert.equal(res.json.error.code, 'source.unsafe_path');
    const cli = await slipway.cli(['deploy', `${files.url}/evil.tar.gz`, '-a', APP]);
    assert.equal(cli.code, 6, cli.stderr);
    assert.match(cli.stderr, /\.\.\/escape|outside/);
    assert.equal(await deploymentCount(), before);
    assert.equal(await label(), 'v-git', 'the running version is untouched');
  });

  test('file://, other schemes and local paths are refused with source.invalid_url', async () => {
    const before = await deploymentCount();
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x.tar.gz', '/etc/passwd', 'ext::sh -c id', '']) {
      const res = await slipway.api('POST', `/api/apps/${APP}/deployments`, { source_url: url });
      assert.equal(res.status, 422, url);
      assert.equal(res.json.error.code, 'source.invalid_url', url);
    }
    const cli = await slipway.cli(['deploy', 'file:///etc/passwd', '-a', APP]);
    assert.equal(cli.code, 6);
    assert.match(cli.stderr, /file: URLs are not accepted/);
    assert.equal(await deploymentCount(), before);
  });

  test('a download that fails (404, nothing listening, unknown ref) is source.fetch_failed (502)', async () => {
    const closed = await startRecorder();
    await closed.close();
    for (const [url, ref] of [
      [`${files.url}/missing.tar.gz`, undefined],
      [`${closed.url}/x.tar.gz`, undefined],
      [`${gitServer.url}/acme/shop.git`, 'no-such-branch'],
    ]) {
      const res = await slipway.api('POST', `/api/apps/${APP}/deployments`, { source_url: url, git_ref: ref });
      assert.equal(res.status, 502, `${url}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.code, 'source.fetch_failed');
    }
  });
});

describe('deploying from a URL on a server with default settings', () => {
  test('loopback, private and link-local destinations are refused, in any spelling, before anything is fetched', async () => {
    const slipway = await startSlipway();
    const files = await startRecorder(() => ({ status: 200, body: 'x' }));
    try {
      assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
      const port = new URL(files.url).port;
      for (const host of [
        '127.0.0.1',
        '0x7f000001',
        '2130706433',
        'localhost',
        '[::ffff:127.0.0.1]',
        '169.254.169.254',
      ]) {
        const url = `http://${host}:${port}/app.tar.gz`;
        const cli = await slipway.cli(['deploy', url, '-a', APP]);
        assert.equal(cli.code, 6, `${url}: ${cli.stderr}`);
        assert.match(cli.stderr, /is not a public address/);
        const git = await slipway.api('POST', `/api/apps/${APP}/deployments`, { source_url: url, git_ref: 'main' });
        assert.equal(git.status, 422);
        assert.equal(git.json.error.code, 'source.denied_destination');
      }
      assert.deepEqual(files.requests, [], 'the server never contacted them');
      assert.equal((await slipway.api('GET', `/api/apps/${APP}/deployments`)).json.length, 0);
    } finally {
      await files.close();
      await slipway.stop();
    }
  });
});
