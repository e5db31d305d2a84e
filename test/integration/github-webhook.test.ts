// GitHub integration end to end, with a local git server standing in for
// github.com (smart HTTP via `git http-backend`) and a local HTTP server
// standing in for api.github.com: `integration:github` links the app, a signed
// push webhook deploys the pushed commit, bad signatures and replays deploy
// nothing, and commit statuses (pending, then success/failure) arrive.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runChecked } from '../../src/exec/index.ts';
import { signBody } from '../../src/source/github-signature.ts';
import { type LocalServer, type Recorded, startGitServer, startRecorder } from '../helpers/local-http.ts';
import { baseEnv, fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'hooked';
const HOST = `${APP}.localhost`;
const GH_TOKEN = 'ghp_test_token_0123456789';
const GIT_ENV = baseEnv({
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Octo Cat',
  GIT_AUTHOR_EMAIL: 'octo@slipway.invalid',
  GIT_COMMITTER_NAME: 'Octo Cat',
  GIT_COMMITTER_EMAIL: 'octo@slipway.invalid',
});

describe('GitHub integration', () => {
  let slipway: Slipway;
  let github: LocalServer;
  let githubApi: LocalServer;
  let statusAnswer = 201;
  let secret = '';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-github-'));
  const bare = path.join(root, 'acme', 'shop.git');
  const work = fixtureCopy('web-worker-hook', { 'label.txt': 'v-one\n' });
  let delivery = 0;

  const git = (args: string[]) => runChecked(['git', ...args], { cwd: work, env: GIT_ENV, timeoutMs: 60_000 });
  /** Commits the files in the work tree and pushes the branch to the "GitHub" repository; returns the SHA. */
  const pushCommit = async (files: Record<string, string>, branch = 'main') => {
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(work, file), content);
    await git(['checkout', '-q', '-B', branch]);
    await git(['commit', '-q', '-am', `set ${Object.keys(files).join(', ')}`]);
    await git(['push', '-q', bare, `${branch}:${branch}`]);
    return (await git(['rev-parse', 'HEAD'])).trim();
  };
  const pushPayload = (sha: string, branch = 'main') => ({
    ref: `refs/heads/${branch}`,
    before: '0'.repeat(40),
    after: sha,
    deleted: false,
    repository: { full_name: 'acme/shop', clone_url: `${github.url}/acme/shop.git` },
    pusher: { name: 'octocat' },
  });
  const hook = async (
    event: string,
    payload: unknown,
    options: { signWith?: string | null; delivery?: string } = {},
  ) => {
    const body = Buffer.from(JSON.stringify(payload));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': options.delivery ?? `delivery-${++delivery}`,
    };
    const key = options.signWith === undefined ? secret : options.signWith;
    if (key !== null) headers['x-hub-signature-256'] = signBody(key, body);
    const res = await fetch(`${slipway.apiUrl}/hooks/github`, { method: 'POST', headers, body });
    return { status: res.status, json: (await res.json()) as { reason?: string; apps?: string[] } };
  };
  // biome-ignore lint/suspicious/noExplicitAny: API JSON
  const deployments = async (): Promise<any[]> => (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
  const finalDeploymentOf = async (sha: string) => {
    // biome-ignore lint/suspicious/noExplicitAny: API JSON
    let found: any;
    await waitFor(
      async () => {
        found = (await deployments()).find((d) => d.commit_sha === sha);
        return found?.finished_at != null;
      },
      `the deployment of ${sha} to end`,
      60_000,
      100,
    );
    return found;
  };
  const statusesOf = (sha: string) =>
    githubApi.requests
      .filter((r) => r.url === `/repos/acme/shop/statuses/${sha}`)
      .map((r) => ({
        ...(JSON.parse(r.body) as { state: string; context: string; target_url: string }),
        auth: r.headers.authorization,
      }));
  const label = async () => (await routerGet(slipway.routerPort, HOST)).body.split(' ')[0];

  before(async () => {
    await git(['init', '-q', '-b', 'main']);
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', 'initial']);
    fs.mkdirSync(path.dirname(bare), { recursive: true });
    await runChecked(['git', 'init', '-q', '--bare', bare], { env: GIT_ENV });
    await git(['push', '-q', bare, 'main:main']);
    github = await startGitServer(root);
    githubApi = await startRecorder((req: Recorded) => ({ status: req.method === 'POST' ? statusAnswer : 404 }));
    slipway = await startSlipway({
      env: {
        SLIPWAY_GITHUB_URL: github.url,
        SLIPWAY_GITHUB_API_URL: `${githubApi.url}/`,
        SLIPWAY_ALLOW_PRIVATE_FETCH: '1', // the stand-in GitHub is on loopback
      },
    });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
    await github?.close();
    await githubApi?.close();
  });

  test('integration:github links the app and shows the webhook secret once, never the token', async () => {
    const linked = await slipway.cli(['integration:github', 'acme/shop', '--auto-deploy', '-a', APP], {
      env: { GITHUB_TOKEN: GH_TOKEN },
    });
    assert.equal(linked.code, 0, linked.stderr);
    secret = /Secret: +([0-9a-f]{48})/.exec(linked.stdout)?.[1] ?? '';
    assert.ok(secret, linked.stdout);
    assert.match(linked.stdout, /Payload URL: +http:\/\/127\.0\.0\.1:\d+\/hooks\/github/);
    assert.match(linked.stdout, /auto-deploy: +on/);
    assert.match(linked.stdout, /commit statuses: +on/);
    const shown = await slipway.cli(['integration:github', '-a', APP, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    for (const out of [linked.stdout, shown.stdout]) assert.doesNotMatch(out, new RegExp(GH_TOKEN));
    assert.doesNotMatch(shown.stdout, new RegExp(secret));
    const link = JSON.parse(shown.stdout);
    assert.deepEqual([link.repo, link.branch, link.auto_deploy, link.has_token], ['acme/shop', 'main', true, true]);
    assert.equal('token' in link || 'webhook_secret' in link, false);
  });

  test('a ping is acknowledged; a bad or missing signature is 401 and deploys nothing', async () => {
    const sha = (await git(['rev-parse', 'HEAD'])).trim();
    const ping = await hook('ping', { zen: 'hi', repository: { full_name: 'acme/shop' } });
    assert.equal(ping.status, 202);
    assert.match(ping.json.reason ?? '', /ping/);
    assert.equal((await hook('push', pushPayload(sha), { signWith: 'not-the-secret' })).status, 401);
    assert.equal((await hook('push', pushPayload(sha), { signWith: null })).status, 401);
    const unknownRepo = { ...pushPayload(sha), repository: { full_name: 'acme/other' } };
    assert.equal((await hook('push', unknownRepo)).status, 401);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await deployments(), []);
  });

  test('a signed push deploys the commit once, even when redelivered; statuses pending then success', async () => {
    const sha = (await git(['rev-parse', 'HEAD'])).trim();
    const first = await hook('push', pushPayload(sha), { delivery: 'replayed-1' });
    assert.equal(first.status, 202);
    assert.deepEqual(first.json.apps, [APP]);
    const replay = await hook('push', pushPayload(sha), { delivery: 'replayed-1' });
    assert.equal(replay.status, 202);
    assert.match(replay.json.reason ?? '', /already handled/);

    const deployment = await finalDeploymentOf(sha);
    assert.equal(deployment.status, 'success');
    assert.equal(deployment.source, 'github');
    assert.equal(await label(), 'v-one');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await deployments()).length, 1, 'the replayed delivery deployed nothing');

    await waitFor(() => statusesOf(sha).length === 2, 'two commit statuses', 10_000, 50);
    const [pending, done] = statusesOf(sha);
    assert.equal(pending?.state, 'pending');
    assert.equal(done?.state, 'success');
    for (const s of [pending, done]) {
      assert.equal(s?.context, `slipway/${APP}`);
      assert.equal(s?.auth, `Bearer ${GH_TOKEN}`);
      assert.match(s?.target_url ?? '', new RegExp(`/api/apps/${APP}/deployments/${deployment.id}/logs$`));
    }
    const fetches = github.requests.filter((r) => r.url.startsWith('/acme/shop.git/'));
    assert.ok(fetches.length > 0, 'the commit was fetched from the git server');
    const basic = Buffer.from(`x-access-token:${GH_TOKEN}`).toString('base64');
    assert.ok(fetches.every((r) => r.headers.authorization === `Basic ${basic}`));
  });

  test('a push whose hook fails reports failure; the old version keeps serving', async () => {
    const sha = await pushCommit({
      'label.txt': 'v-two\n',
      Procfile: 'web: node server.js\npostdeploy: echo "hook says no"; exit 3\n',
    });
    assert.equal((await hook('push', pushPayload(sha))).status, 202);
    const deployment = await finalDeploymentOf(sha);
    assert.equal(deployment.status, 'hook-error');
    assert.equal(await label(), 'v-one');
    await waitFor(() => statusesOf(sha).length === 2, 'two commit statuses', 10_000, 50);
    assert.deepEqual(
      statusesOf(sha).map((s) => s.state),
      ['pending', 'failure'],
    );
  });

  test('other branches, deleted branches and a link without auto-deploy are acknowledged, not deployed', async () => {
    const count = (await deployments()).length;
    const featureSha = await pushCommit({ 'label.txt': 'v-feature\n' }, 'feature');
    const other = await hook('push', pushPayload(featureSha, 'feature'));
    assert.equal(other.status, 202);
    assert.match(other.json.reason ?? '', /not the linked branch main/);
    const deleted = await hook('push', { ...pushPayload('0'.repeat(40)), deleted: true });
    assert.match(deleted.json.reason ?? '', /deleted/);

    const relinked = await slipway.cli(['integration:github', 'acme/shop', '-a', APP]);
    assert.equal(relinked.code, 0, relinked.stderr);
    assert.doesNotMatch(relinked.stdout, /Secret:/, 'the same repository keeps its secret, not shown again');
    const off = await hook('push', pushPayload(featureSha, 'main'));
    assert.equal(off.status, 202);
    assert.match(off.json.reason ?? '', /auto-deploy is off/);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await deployments()).length, count);
  });

  test('when GitHub refuses the statuses, the deployment still succeeds', async () => {
    assert.equal((await slipway.cli(['integration:github', 'acme/shop', '--auto-deploy', '-a', APP])).code, 0);
    statusAnswer = 500;
    const sha = await pushCommit({ 'label.txt': 'v-three\n', Procfile: 'web: node server.js\n' }, 'main');
    assert.equal((await hook('push', pushPayload(sha))).status, 202);
    const deployment = await finalDeploymentOf(sha);
    assert.equal(deployment.status, 'success');
    assert.equal(await label(), 'v-three');
    await waitFor(() => statusesOf(sha).length === 2, 'both statuses attempted', 10_000, 50);
  });

  test("a flood of large unsigned bodies is refused while streaming, with the server's memory bounded", async (t) => {
    const peakRss = () => {
      const status = fs.readFileSync(`/proc/${slipway.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    };
    const before = peakRss();
    const body = Buffer.alloc(24 * 1024 * 1024, 0x20); // just under GitHub's 25 MiB cap
    const wrong = `sha256=${'0'.repeat(64)}`; // well formed, so the body must be read to know
    const send = () =>
      new Promise<number>((resolve) => {
        const req = http.request(`${slipway.apiUrl}/hooks/github`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': wrong },
        });
        // Settled at 'close', once nothing of the request is left running (an answer may come
        // while the body is still being written: the write that follows then fails with EPIPE).
        let status = 0;
        req.on('response', (res) => {
          status = res.statusCode ?? 0;
          res.resume();
        });
        req.on('error', () => {}); // the server may close on an answered, unread body
        req.on('socket', (socket) => socket.on('error', () => {}));
        req.on('close', () => resolve(status));
        req.end(body);
      });
    const statuses = await Promise.all(Array.from({ length: 16 }, send));
    const grown = peakRss() - before;
    t.diagnostic(`peak RSS grew by ${Math.round(grown / 1024 / 1024)} MB; statuses ${statuses.join(' ')}`);
    assert.ok(
      statuses.every((s) => s === 401 || s === 503 || s === 0),
      statuses.join(' '),
    );
    assert.ok(
      statuses.filter((s) => s === 401).length >= 4,
      `some bodies were read and refused: ${statuses.join(' ')}`,
    );
    assert.ok(grown < 200 * 1024 * 1024, `peak RSS grew by ${Math.round(grown / 1024 / 1024)} MB`);
    // A body with no well-formed signature is refused before it is read at all.
    assert.equal((await hook('push', { zen: 'x' }, { signWith: null })).status, 401);
    assert.equal((await slipway.api('GET', '/healthz', undefined, null)).status, 200);
  });
});
