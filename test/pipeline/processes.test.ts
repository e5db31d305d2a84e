// Running containers, in the test's process (test/helpers/pipeline-harness.ts):
// scale adds and retires web containers behind the router, a web container
// that crashes is restarted and routed again, and a new release retires the
// old containers once it serves.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline-harness.ts';
import { waitFor } from '../helpers/wait.ts';

describe('pipeline: processes', () => {
  let h: PipelineHarness;
  const containers = async (app: string) => (await h.store.containers.list(app)).map((c) => `${c.name} ${c.state}`);

  before(async () => {
    h = await startPipeline({ restartBackoffMs: 100 });
  });
  after(() => h?.close());

  test('scale web=3 serves from three containers; web=1 retires two', async () => {
    const d = await h.deployFixture('scaled', 'web-worker-hook');
    assert.equal((await h.finished(d.id)).status, 'success');
    assert.deepEqual(await h.pipeline.scale('scaled', { web: 3 }), { web: 3 });
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await h.get('scaled')).body.split(' ')[1]?.trim() ?? '');
    assert.deepEqual([...seen].sort(), ['web-1', 'web-2', 'web-3']);
    await h.pipeline.scale('scaled', { web: 1 });
    await waitFor(async () => (await containers('scaled')).filter((c) => c.startsWith('web-')).length === 1, 'web=1');
    for (let i = 0; i < 4; i++) assert.match((await h.get('scaled')).body, /web-1/);
  });

  test('a web container that crashes is restarted and serves again', async () => {
    const d = await h.deployFixture('crashy', 'web-worker-hook');
    assert.equal((await h.finished(d.id)).status, 'success');
    await h.get('crashy', '/exit');
    await waitFor(
      async () => (await h.store.containers.list('crashy')).some((c) => c.name === 'web-1' && c.restarts === 1),
      'the restart to be recorded',
      10_000,
    );
    await waitFor(async () => (await h.get('crashy')).status === 200, 'the app to answer again', 10_000);
  });

  test('a new release retires the old containers once it serves', async () => {
    const first = await h.deployFixture('retiring', 'web-worker-hook', { 'label.txt': 'old\n' });
    assert.equal((await h.finished(first.id)).status, 'success');
    const second = await h.deployFixture('retiring', 'web-worker-hook', { 'label.txt': 'new\n' });
    assert.equal((await h.finished(second.id)).status, 'success');
    assert.match((await h.get('retiring')).body, /^new/);
    await waitFor(
      async () => (await h.store.containers.list('retiring')).every((c) => c.releaseVersion === 2),
      'only release 2 containers left',
      10_000,
    );
  });
});
