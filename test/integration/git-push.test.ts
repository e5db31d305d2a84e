// Deploying with `git push`, end to end with the real git client against a
// real server: the remote set up by `slipway git:remote`, the deployment log
// streamed as `remote:` lines, a failed deployment rejecting the push (the
// branch stays where it was, the old version keeps serving), unchanged and
// non-deploy pushes, a force-push back to an older commit, and auth.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commitAll, gitUserEnv, runGit } from '../helpers/git-fixture.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';

const APP = 'pushy';
const HOST = `${APP}.localhost`;

describe('deploying with git push', () => {
  let slipway: Slipway;
  let dir = '';
  let firstSha = '';
  let env: Record<string, string> = {};

  /** Runs git in the app's checkout; git push reports on stderr, so both streams are kept together. */
  const git = (args: string[], extraEnv: Record<string, string> = {}, cwd = dir) =>
    runGit(cwd, args, { ...env, ...extraEnv });
  const commit = async (files: Record<string, string>, message: string) => {
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
    assert.equal((await git(['commit', '-q', '-am', message])).code, 0);
    return (await git(['rev-parse', 'HEAD'])).output.trim();
  };
  const deployments = async () => (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json as { id: string }[];
  const remoteMain = async () =>
    /^([0-9a-f]{40})\trefs\/heads\/main$/m.exec((await git(['ls-remote', 'slipway'])).output)?.[1];
  const label = async () => (await routerGet(slipway.routerPort, HOST)).body.split(' ')[0];

  before(async () => {
    slipway = await startSlipway();
    env = gitUserEnv(slipway, { name: 'Ada Pusher', email: 'ada@slipway.invalid' });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    dir = fixtureCopy('web-worker-hook');
    firstSha = await commitAll(dir, 'first version');
  });
  after(async () => {
    await slipway?.stop();
  });

  test('git:remote adds the remote with a credential helper, never the token', async () => {
    const result = await slipway.cli(['git:remote', '-a', APP], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`${slipway.apiUrl}/git/${APP}\\.git`));
    assert.equal((await git(['remote', 'get-url', 'slipway'])).output, `${slipway.apiUrl}/git/${APP}.git`);
    const config = fs.readFileSync(path.join(dir, '.git', 'config'), 'utf8');
    assert.match(config, /git:credentials/);
    assert.doesNotMatch(config, new RegExp(TOKEN));
  });

  test('git push slipway main deploys the commit and streams the log as remote: lines', async () => {
    const push = await git(['push', 'slipway', 'main']);
    assert.equal(push.code, 0, push.output);
    for (const header of ['Building', 'Starting containers', 'Running postdeploy hook', 'Switching traffic']) {
      assert.match(push.output, new RegExp(`^remote: -----> ${header}`, 'm'));
    }
    assert.match(push.output, /^remote: +migrating database for pushy/m); // build/hook output
    assert.match(push.output, new RegExp(`^remote: +hook ${APP} postdeploy-1 ${firstSha}\\b`, 'm'));
    assert.match(push.output, /^remote: .*first version/m); // the commit message
    assert.match(push.output, /\* \[new branch\] +main -> main/);
    assert.equal(await label(), 'v-one');

    const [latest] = (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
    assert.equal(latest.status, 'success');
    assert.equal(latest.source, 'git');
    assert.equal(latest.commit_sha, firstSha);
    assert.equal(latest.git_ref, 'main');
    const log = (await slipway.api('GET', `/api/apps/${APP}/deployments/${latest.id}/logs`)).json as string;
    assert.match(log, /Commit [0-9a-f]{40} by Slipway Test <test@slipway\.invalid>: first version/);
  });

  test('a push whose hook fails is rejected: the branch stays, the old version keeps serving', async () => {
    const before = (await deployments()).length;
    const broken = await commit(
      { 'label.txt': 'v-two\n', Procfile: 'web: node server.js\npostdeploy: echo "hook says no"; exit 3\n' },
      'break the hook',
    );
    const push = await git(['push', 'slipway', 'main']);
    assert.notEqual(push.code, 0, push.output);
    assert.match(push.output, /^remote: +hook says no/m);
    assert.match(push.output, /! \[remote rejected\] +main -> main \(deployment failed\)/);
    assert.equal(await remoteMain(), firstSha);
    assert.notEqual(broken, firstSha);
    // What the rejected push stored is gone from the server's repository.
    const stored = await git(['--git-dir', path.join(slipway.home, 'repos', `${APP}.git`), 'cat-file', '-e', broken]);
    assert.notEqual(stored.code, 0, 'the rejected commit was removed');
    assert.equal(await label(), 'v-one');
    const list = await deployments();
    assert.equal(list.length, before + 1);
    assert.equal((list[0] as unknown as { status: string }).status, 'hook-error');
  });

  test('pushing the deployed commit again deploys nothing and says so', async () => {
    const before = (await deployments()).length;
    const again = await git(['push', 'slipway', `${firstSha}:refs/heads/main`]);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /Everything up-to-date/);
    // The server notices too when its branch is behind but the commit is what serves.
    assert.equal((await git(['push', 'slipway', ':main'])).code, 0);
    const back = await git(['push', 'slipway', `${firstSha}:refs/heads/main`]);
    assert.equal(back.code, 0, back.output);
    assert.match(back.output, /^remote: -----> [0-9a-f]{7} is already deployed: nothing to deploy/m);
    assert.equal((await deployments()).length, before);
    assert.equal(await remoteMain(), firstSha);
  });

  test('a push to another branch is stored without deploying', async () => {
    const before = (await deployments()).length;
    const push = await git(['push', 'slipway', 'main:feature']);
    assert.equal(push.code, 0, push.output);
    assert.match(push.output, /Stored refs\/heads\/feature \(only main deploys\)/);
    assert.match((await git(['ls-remote', 'slipway'])).output, /\trefs\/heads\/feature$/m);
    assert.equal((await deployments()).length, before);
    assert.equal(await label(), 'v-one');
  });

  test('a fixed commit deploys; a force-push back to an older commit deploys that one', async () => {
    const fixed = await commit({ 'label.txt': 'v-three\n', Procfile: 'web: node server.js\n' }, 'fix the hook');
    const push = await git(['push', 'slipway', 'main']);
    assert.equal(push.code, 0, push.output);
    assert.equal(await label(), 'v-three');
    assert.equal(await remoteMain(), fixed);

    const older = await git(['push', '--force', 'slipway', `${firstSha}:refs/heads/main`]);
    assert.equal(older.code, 0, older.output);
    assert.match(older.output, /\+ [0-9a-f]+\.\.\.[0-9a-f]+ +[0-9a-f]+ -> main \(forced update\)/);
    assert.equal(await label(), 'v-one');
    const [latest] = (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
    assert.equal(latest.commit_sha, firstSha);
    assert.equal(latest.status, 'success');
  });

  test('fetch and push need the token; an unknown app is a clear 404', async () => {
    const before = (await deployments()).length;
    const url = `${slipway.apiUrl}/git/${APP}.git`;
    const noHelper = ['-c', 'credential.helper='];
    const missing = await git([...noHelper, 'ls-remote', url]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.output, /could not read Username/);
    const bad = url.replace('://', '://slipway:wrong-token@');
    const fetch = await git([...noHelper, 'ls-remote', bad]);
    assert.notEqual(fetch.code, 0);
    assert.match(fetch.output, /Authentication failed/);
    const push = await git([...noHelper, 'push', bad, 'HEAD:refs/heads/main', '--force']);
    assert.notEqual(push.code, 0);
    assert.match(push.output, /Authentication failed/);
    assert.equal(await remoteMain(), firstSha);
    assert.equal((await deployments()).length, before);

    const raw = await globalThis.fetch(`${url}/info/refs?service=git-receive-pack`);
    assert.equal(raw.status, 401);
    assert.equal(raw.headers.get('www-authenticate'), 'Basic realm="Slipway"');

    const unknown = await git(['ls-remote', `${slipway.apiUrl.replace('://', `://x:${TOKEN}@`)}/git/nope.git`]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.output, /remote: app "nope" not found/);
  });

  test('a clone gets the deployed code; destroying the app removes its repository', async () => {
    const clone = path.join(slipway.home, 'clone');
    const cloned = await git([
      'clone',
      '-q',
      `${slipway.apiUrl.replace('://', `://x:${TOKEN}@`)}/git/${APP}.git`,
      clone,
    ]);
    assert.equal(cloned.code, 0, cloned.output);
    assert.equal(fs.readFileSync(path.join(clone, 'label.txt'), 'utf8'), 'v-one\n');

    const repo = path.join(slipway.home, 'repos', `${APP}.git`);
    assert.ok(fs.existsSync(repo));
    assert.equal((await slipway.cli(['apps:destroy', '--confirm', APP])).code, 0);
    assert.equal(fs.existsSync(repo), false);
  });
});

describe('git push edge cases', () => {
  let slipway: Slipway;
  let env: Record<string, string> = {};
  const git = (cwd: string, args: string[]) => runGit(cwd, args, env);
  /** A fixture checkout on branch `branch`, with the remote set up by the CLI. */
  const checkout = async (app: string, branch: string, files: Record<string, string> = {}) => {
    assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    const dir = fixtureCopy('web-worker-hook', files);
    await commitAll(dir);
    assert.equal((await git(dir, ['branch', '-m', branch])).code, 0);
    assert.equal((await slipway.cli(['git:remote', '-a', app], { cwd: dir })).code, 0);
    return dir;
  };
  const refs = async (dir: string) => (await git(dir, ['ls-remote', 'slipway'])).output;

  before(async () => {
    slipway = await startSlipway({ env: { SLIPWAY_MAX_UPLOAD: '64kb' } });
    env = gitUserEnv(slipway);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('a repository with only master deploys master', async () => {
    const dir = await checkout('legacy', 'master');
    const push = await git(dir, ['push', 'slipway', 'master']);
    assert.equal(push.code, 0, push.output);
    assert.match(push.output, /^remote: -----> Deployed [0-9a-f]{7} to legacy/m);
    assert.match((await routerGet(slipway.routerPort, 'legacy.localhost')).body, /^v-one web-1/);
  });

  test('git:remote prints the push that deploys the branch checked out, and that push deploys', async () => {
    const cases = [
      { app: 'on-master', branch: 'master', push: 'git push slipway master' },
      { app: 'on-trunk', branch: 'trunk', push: 'git push slipway trunk:main' },
      { app: 'detached', branch: null, push: 'git push slipway HEAD:refs/heads/main' },
    ];
    for (const { app, branch, push } of cases) {
      assert.equal((await slipway.cli(['apps:create', app])).code, 0);
      const dir = fixtureCopy('web-worker-hook');
      await commitAll(dir);
      if (branch) assert.equal((await git(dir, ['branch', '-m', branch])).code, 0);
      else assert.equal((await git(dir, ['checkout', '-q', '--detach'])).code, 0);
      const remote = await slipway.cli(['git:remote', '-a', app], { cwd: dir });
      assert.equal(remote.code, 0, remote.stderr);
      const printed = /^Deploy with: (.+)$/m.exec(remote.stdout)?.[1];
      assert.equal(printed, push, remote.stdout);
      const pushed = await git(dir, push.split(' ').slice(1));
      assert.equal(pushed.code, 0, pushed.output);
      assert.match(pushed.output, new RegExp(`^remote: -----> Deployed [0-9a-f]{7} to ${app}`, 'm'));
    }
  });

  test('a push larger than the upload cap is refused and nothing is stored', async () => {
    const noise = Array.from({ length: 4000 }, (_, i) => `${i} ${Math.random().toString(36)}`).join('\n');
    const dir = await checkout('bulky', 'main', { 'noise.txt': noise.repeat(2) });
    const push = await git(dir, ['push', 'slipway', 'main']);
    assert.notEqual(push.code, 0, push.output);
    assert.match(push.output, /413/);
    assert.doesNotMatch(await refs(dir), /refs\/heads\/main/);
    assert.equal((await slipway.api('GET', '/api/apps/bulky/deployments')).json.length, 0);
  });

  test('a commit whose tree has a symlink out of the app is rejected before any build', async () => {
    const dir = await checkout('linky', 'main');
    fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    assert.equal((await git(dir, ['add', 'passwd'])).code, 0);
    const committed = await git(dir, ['commit', '-qm', 'link out']);
    assert.equal(committed.code, 0);
    const push = await git(dir, ['push', 'slipway', 'main']);
    assert.notEqual(push.code, 0, push.output);
    assert.match(push.output, /^remote: .*passwd/m);
    assert.match(push.output, /\[remote rejected\] +main -> main \(deployment failed\)/);
    assert.doesNotMatch(await refs(dir), /refs\/heads\/main/);
  });
});
