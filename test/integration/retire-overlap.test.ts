// Retiring the old containers goes on after a deployment's success without
// holding up the app's next deployment: an old web container that is still
// answering a slow request holds up only its own retirement, not the next push.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { delay, waitFor } from '../helpers/wait.ts';

type Deployment = {
  id: string;
  status: string;
  steps: { name: string; started_at: string; finished_at: string | null }[];
};

/** Long enough for two deployments on a busy CI machine. */
const SLOW_MS = 15_000;

/** Answers its label; `/slow` only after SLOW_MS. */
const SERVER = `const label = require('node:fs').readFileSync('label.txt', 'utf8').trim();
require('node:http')
  .createServer((q, s) => (q.url === '/slow' ? setTimeout(() => s.end(\`slow \${label}\`), ${SLOW_MS}) : s.end(label)))
  .listen(Number(process.env.PORT));
`;

describe('retiring old containers', () => {
  let slipway: Slipway;
  const deploy = async (label: string) => {
    const dir = fixtureCopy('web-worker-hook', {
      Procfile: 'web: node server.js\npostdeploy: true\n',
      'server.js': SERVER,
      'label.txt': label,
    });
    const result = await slipway.cli(['deploy', dir, '-a', 'slow']);
    assert.equal(result.code, 0, result.stderr);
  };

  before(async () => {
    // Retiring waits for in-flight requests up to the drain timeout: longer than the slow request.
    slipway = await startSlipway({ env: { SLIPWAY_DRAIN_TIMEOUT: '30s' } });
    assert.equal((await slipway.cli(['apps:create', 'slow'])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('the next deployment runs while the previous one still retires its old containers', async () => {
    await deploy('v1');
    let slowEnded = false;
    const slow = routerGet(slipway.routerPort, 'slow.localhost', '/slow', '127.0.0.1', SLOW_MS + 10_000).finally(() => {
      slowEnded = true;
    });
    await delay(300); // in flight at v1's web
    await deploy('v2'); // retiring v1's web waits for the slow request
    await deploy('v3');
    const v3DoneFirst = !slowEnded;
    const [v3, v2] = (await slipway.api('GET', '/api/apps/slow/deployments')).json as Deployment[];
    assert.equal(v3?.status, 'success');
    const v2Retire = v2?.steps.find((s) => s.name === 'retire');
    const v3Start = v3?.steps[0]?.started_at;
    assert.ok(v2Retire && v3Start);
    assert.ok(
      v2Retire.finished_at === null || v3Start < v2Retire.finished_at,
      `v3 started at ${v3Start}, only after v2's retire ended at ${v2Retire.finished_at}`,
    );
    assert.ok(v3DoneFirst, 'v3 succeeded before the slow request to v1 ended');
    assert.equal((await routerGet(slipway.routerPort, 'slow.localhost')).body, 'v3');
    assert.deepEqual(await slow, { status: 200, body: 'slow v1' }, 'the old container finished its request');

    await waitFor(
      async () => {
        const { json } = await slipway.api('GET', '/api/apps/slow/containers');
        return (json as { release: string }[]).every((c) => c.release === 'v3');
      },
      'only v3 containers left',
      10_000,
      100,
    );
  });
});
