// Deploying from a URL, against real local HTTP servers: a GitHub-style
// tarball (one top folder) is unwrapped and deployed by `slipway deploy URL`;
// a git repository URL + ref is fetched with git, and so is a GitHub-style
// repository URL without `.git` (#ref, /tree/ref, or asked over smart HTTP); a
// tarball URL without an archive extension is still a tarball; a hostile
// tarball, a URL that is not http(s), and a download that fails are refused,
// with the reason, before any deployment exists.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create } from 'tar';
import { bareCopy, commitAll } from '../helpers/git-fixture.ts';
import { rawTarball } from '../helpers/hostile-tarball.ts';
import { deadPort, type LocalServer, startGitServer, startRecorder } from '../helpers/local-http.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

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
      if (req.url === '/a/page') return { status: 200, body: '<!doctype html><p>a page</p>', type: 'text/html' };
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
    served.set('/download/shop', fs.readFileSync(tarball)); // as codeload.github.com/OWNER/REPO/tar.gz/REF
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
    await bareCopy(work, gitRoot, 'acme/shop');
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

  test('a GitHub-style repository URL without .git is fetched with git: asked, #ref or /tree/ref', async () => {
    const result = await slipway.cli(['deploy', `${gitServer.url}/acme/shop`, '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`Commit ${gitSha} by Slipway Test`));
    assert.ok(
      gitServer.requests.some((r) => r.url === '/acme/shop/info/refs?service=git-upload-pack'),
      'the server was asked whether it serves git',
    );
    for (const [url, ref] of [
      [`${gitServer.url}/acme/shop#main`, 'main'],
      [`${gitServer.url}/acme/shop/tree/main`, 'main'],
      [`${gitServer.url}/acme/shop#main`, gitSha], // a git_ref beside the URL wins
    ]) {
      const res = await slipway.api('POST', `/api/apps/${APP}/deployments`, { source_url: url, git_ref: ref });
      assert.equal(res.status, 201, `${url}: ${JSON.stringify(res.json)}`);
      assert.deepEqual([res.json.commit_sha, res.json.git_ref], [gitSha, ref], url);
    }
  });

  test('a tarball URL without an archive extension is downloaded once the server says it is no git repository', async () => {
    const result = await slipway.cli(['deploy', `${files.url}/download/shop`, '-a', APP]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Fetched http:\/\/127\.0\.0\.1:\d+\/download\/shop/);
    assert.equal(await label(), 'v-tarball');
    assert.deepEqual(
      files.requests.filter((r) => r.url.startsWith('/download/shop')).map((r) => r.url),
      ['/download/shop/info/refs?service=git-upload-pack', '/download/shop'],
    );
  });

  test('a download that fails says why: HTTP status, connection refused, git, neither git nor archive', async () => {
    const before = await deploymentCount();
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const cases: [string, string | undefined, number, string, RegExp][] = [
      [`${files.url}/missing.tar.gz`, undefined, 502, 'source.fetch_failed', /: HTTP 404$/],
      [
        `${dead}/x.tar.gz`,
        undefined,
        502,
        'source.fetch_failed',
        /^could not fetch .*\/x\.tar\.gz: connection refused$/,
      ],
      [`${dead}/acme/shop`, undefined, 502, 'source.fetch_failed', /: connection refused$/],
      [
        `${gitServer.url}/acme/shop.git`,
        'no-such-branch',
        502,
        'source.fetch_failed',
        /couldn't find remote ref no-such-branch$/,
      ],
      [
        `${gitServer.url}/acme/none.git`,
        undefined,
        502,
        'source.fetch_failed',
        /repository '.*\/acme\/none\.git\/' not found$/,
      ],
      // The fragment is a ref like any other: never an option to git.
      [
        `${gitServer.url}/acme/shop#--upload-pack=touch%20/tmp/x`,
        undefined,
        400,
        'request.invalid',
        /invalid characters/,
      ],
      [
        `${files.url}/a/page`,
        undefined,
        422,
        'source.invalid_archive',
        /\/a\/page is not a git repository .*, and not a \.tar\.gz archive: the archive is not gzip-compressed/,
      ],
    ];
    for (const [url, ref, status, code, message] of cases) {
      const res = await slipway.api('POST', `/api/apps/${APP}/deployments`, { source_url: url, git_ref: ref });
      assert.deepEqual([res.status, res.json.error?.code], [status, code], `${url}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error.message, message, url);
    }
    assert.equal(await deploymentCount(), before);
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
        // Git repositories: asked over smart HTTP, named by a fragment, by .git.
        for (const repo of ['/acme/shop', '/acme/shop#main', '/acme/shop.git']) {
          const git = await slipway.api('POST', `/api/apps/${APP}/deployments`, {
            source_url: `http://${host}:${port}${repo}`,
          });
          assert.deepEqual([git.status, git.json.error.code], [422, 'source.denied_destination'], `${host} ${repo}`);
        }
      }
      assert.deepEqual(files.requests, [], 'the server never contacted them');
      assert.equal((await slipway.api('GET', `/api/apps/${APP}/deployments`)).json.length, 0);
    } finally {
      await files.close();
      await slipway.stop();
    }
  });
});
