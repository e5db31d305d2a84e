// Ten `git push`es in quick succession to one app, with the real git client:
// each push starts as soon as the server has queued the previous one's
// deployment (so all ten are in flight at once, each waiting for its own
// deployment, as git push does); they end as ten deployments, each final,
// run one after the other in push order, and the last commit is what serves.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commitAll, gitUserEnv, runGit } from '../helpers/git-fixture.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'burst';
const PUSHES = 10;

describe('ten git pushes in quick succession', () => {
  let slipway: Slipway;
  let dir = '';
  let env: Record<string, string> = {};

  const git = (args: string[]) => runGit(dir, args, env, 300_000);
  // biome-ignore lint/suspicious/noExplicitAny: API JSON
  const deployments = async (): Promise<any[]> => (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;

  before(async () => {
    slipway = await startSlipway();
    env = gitUserEnv(slipway, { name: 'Burst Pusher', email: 'burst@slipway.invalid' });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    // A hook that takes a second: deployments last longer than a push takes to arrive, so they pile up.
    dir = fixtureCopy('web-worker-hook', {
      'label.txt': 'v-0\n',
      Procfile: 'web: node server.js\npostdeploy: sleep 1\n',
    });
    await commitAll(dir, 'v-0');
    assert.equal((await slipway.cli(['git:remote', '-a', APP], { cwd: dir })).code, 0);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('ten deployments, each final, processed in push order; the last commit serves', async (t) => {
    const shas: string[] = [];
    for (let i = 1; i <= PUSHES; i++) {
      fs.writeFileSync(path.join(dir, 'label.txt'), `v-${i}\n`);
      assert.equal((await git(['commit', '-q', '-am', `v-${i}`])).code, 0);
      shas.push((await git(['rev-parse', 'HEAD'])).output.trim());
    }
    // The URL with the token in it (test only): no credential helper to start per push, so pushes come fast.
    const url = new URL(`${slipway.apiUrl}/git/${APP}.git`);
    url.username = 'slipway';
    url.password = TOKEN;
    const started = Date.now();
    const pushes: Promise<{ code: number | null; output: string }>[] = [];
    let mostInFlight = 0;
    for (let i = 0; i < PUSHES; i++) {
      pushes.push(git(['push', url.href, `${shas[i]}:refs/heads/main`]));
      await waitFor(async () => (await deployments()).length === i + 1, `push ${i + 1} queued`, 30_000, 20);
      const unfinished = (await deployments()).filter((d) => d.finished_at === null).length;
      mostInFlight = Math.max(mostInFlight, unfinished);
    }
    const queuedAfterMs = Date.now() - started;
    const results = await Promise.all(pushes);
    const totalMs = Date.now() - started;
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `push ${i + 1}:\n${r.output}`);
      assert.match(r.output, new RegExp(`remote: -----> Deployed ${shas[i]?.slice(0, 7)} to ${APP}`));
    });

    const all = (await deployments()).reverse(); // oldest first
    assert.equal(all.length, PUSHES);
    assert.deepEqual(
      all.map((d) => d.commit_sha),
      shas,
      'created in push order',
    );
    assert.deepEqual(
      all.map((d) => d.status),
      Array(PUSHES).fill('success'),
    );
    for (let i = 1; i < PUSHES; i++) {
      const previousEnd = Date.parse(all[i - 1].finished_at);
      const firstStep = Date.parse(all[i].steps[0].started_at);
      assert.ok(firstStep >= previousEnd, `deployment ${i + 1} started after deployment ${i} ended`);
    }
    assert.equal((await routerGet(slipway.routerPort, `${APP}.localhost`)).body.split(' ')[0], `v-${PUSHES}`);
    assert.ok(mostInFlight > 1, 'pushes overlapped: several deployments were waiting at once');
    const head = await git(['ls-remote', 'slipway', 'refs/heads/main']);
    assert.equal(head.output.split('\t')[0], shas[PUSHES - 1]);
    t.diagnostic(
      `${PUSHES} pushes queued in ${queuedAfterMs} ms (up to ${mostInFlight} unfinished at once), all deployed in ${totalMs} ms`,
    );
  });
});
