// The pipeline in the test's process (test/helpers/pipeline-harness.ts):
// deployments of one app run one at a time in the order they were queued,
// a cancel ends a queued or running one `aborted` with the old release still
// serving, and a config change is a release of its own, without the hook.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline-harness.ts';
import { waitFor } from '../helpers/wait.ts';

describe('pipeline: deployments', () => {
  let h: PipelineHarness;
  before(async () => {
    h = await startPipeline();
  });
  after(() => h?.close());

  test('three deployments queued at once run one at a time, in order; the last one serves', async () => {
    const queued = [];
    for (const label of ['one', 'two', 'three']) {
      queued.push(await h.deployFixture('fifo', 'web-worker-hook', { 'label.txt': `${label}\n` }));
    }
    const done = await Promise.all(queued.map((d) => h.finished(d.id)));
    assert.deepEqual(
      done.map((d) => [d.status, d.releaseVersion]),
      [
        ['success', 1],
        ['success', 2],
        ['success', 3],
      ],
    );
    // Each started building only once the one before had ended.
    for (let i = 1; i < done.length; i++) {
      const started = done[i]?.steps[0]?.startedAt ?? '';
      assert.ok(started >= (done[i - 1]?.finishedAt ?? ''), `deployment ${i + 1} started after ${i} ended`);
    }
    assert.match((await h.get('fifo')).body, /^three web-1/);
  });

  test('a queued deployment cancelled never runs; a running one cancelled in its hook ends aborted', async () => {
    const first = await h.deployFixture('cancel', 'web-worker-hook', { 'label.txt': 'first\n' });
    assert.equal((await h.finished(first.id)).status, 'success');
    const slow = await h.deployFixture('cancel', 'web-worker-hook', {
      'label.txt': 'slow\n',
      Procfile: 'web: node server.js\npostdeploy: echo hook-started; sleep 30\n',
    });
    const waiting = await h.deployFixture('cancel', 'web-worker-hook', { 'label.txt': 'waiting\n' });
    assert.equal((await h.pipeline.cancelDeployment('cancel', waiting.id, 'tester')).status, 'aborted');
    await waitFor(() => h.logs.read(slow.id).some((l) => l.includes('hook-started')), 'the hook to start', 20_000);
    const t0 = Date.now();
    await h.pipeline.cancelDeployment('cancel', slow.id, 'tester');
    const aborted = await h.finished(slow.id);
    assert.equal(aborted.status, 'aborted');
    assert.equal(aborted.step, 'hook');
    assert.ok(Date.now() - t0 < 5000, 'the hook was stopped at once');
    const never = await h.finished(waiting.id);
    assert.equal(never.steps.length, 0, 'the cancelled queued deployment never started a step');
    assert.match((await h.get('cancel')).body, /^first web-1/);
  });

  test('a config change is a new release of the same slug with the new config, and runs no hook', async () => {
    const first = await h.deployFixture('config', 'web-worker-hook');
    assert.equal((await h.finished(first.id)).status, 'success');
    const { deployment } = await h.pipeline.updateConfig('config', { GREETING: 'hello' }, 'tester');
    assert.ok(deployment);
    const done = await h.finished(deployment.id);
    assert.equal(done.status, 'success');
    assert.equal(done.kind, 'config');
    assert.equal(done.hook, null);
    assert.ok(!done.steps.some((s) => s.name === 'hook'));
    const env = JSON.parse((await h.get('config', '/env')).body);
    assert.equal(env.GREETING, 'hello');
    assert.equal(env.CONTAINER_VERSION, 'v2');
  });
});
