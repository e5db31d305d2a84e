// The chaos test (issue #7): for each lifecycle step, deploy v2 while v1
// serves, SIGKILL the server at that step, start it again, and check what a
// user would: the right version answers again within a bounded time, the
// deployment ended final with the right reason, nothing of the killed run is
// left (processes, cgroups, mounts), and the next deployment succeeds. A
// bounded request loop runs throughout; its failures and the time to recovery
// are reported per step (and written down in RELIABILITY.md).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { after, describe, test } from 'node:test';
import { processesWith } from '../helpers/runtime-helpers.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { delay, waitForValue } from '../helpers/wait.ts';

const STEPS = ['build', 'boot', 'hook', 'switch', 'retire'] as const;
const APP = 'chaos';
const HOST = `${APP}.localhost`;

/** A release whose processes carry a marker argument, so the test can count them on the host. */
function release(label: string) {
  return fixtureCopy('web-worker-hook', {
    'label.txt': `${label}\n`,
    Procfile: `web: node server.js ${label}-web\nworker: node worker.js ${label}-worker\npostdeploy: echo hook ${label}\n`,
  });
}

/** Requests through the router until `stop()`: counts failures (anything but a 200) and when they happened. */
function requestLoop(port: () => number) {
  let running = true;
  const failures: number[] = [];
  const successes: number[] = [];
  let total = 0;
  const done = (async () => {
    const deadline = Date.now() + 120_000;
    while (running && Date.now() < deadline && total < 100_000) {
      total++;
      try {
        const res = await routerGet(port(), HOST);
        if (res.status !== 200) failures.push(Date.now());
        else successes.push(Date.now());
      } catch {
        failures.push(Date.now());
        await delay(10); // the router is down with the server: do not spin
      }
    }
  })();
  return {
    failures,
    /** When the first request after `t` succeeded. */
    firstSuccessAfter: (t: number) => successes.find((at) => at >= t),
    get total() {
      return total;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

function cgroupChildren(home: string): string[] {
  const hash = createHash('sha256').update(home).digest('hex').slice(0, 12);
  const self = fs.readFileSync('/proc/self/cgroup', 'utf8').match(/:pids:(.*)$/m)?.[1] ?? '/';
  const dir = `/sys/fs/cgroup/pids${self}/slipway/${hash}`;
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
    : [];
}

const figures: string[] = [];

describe('SIGKILL of the control plane at each step of a deployment', () => {
  after(() => {
    const header =
      'step | failed requests | total requests | server start → ready (ms) | ready → serving (ms) | restart → first answer (ms)';
    console.log([header, ...figures].join('\n'));
  });

  test('killed while no deployment runs', async () => {
    let slipway: Slipway = await startSlipway();
    try {
      assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
      assert.equal((await slipway.cli(['deploy', release('v1'), '-a', APP])).code, 0);
      const port = slipway.routerPort;
      const loop = requestLoop(() => port);
      await delay(300);
      await slipway.kill();
      const restartedAt = Date.now();
      slipway = await startSlipway({ home: slipway.home, args: ['--router-port', String(port)] });
      const readyAt = Date.now();
      await waitForValue(async () => ((await routerGet(port, HOST)).status === 200 ? true : undefined), 'v1', 5000, 10);
      const servingAt = Date.now();
      await delay(300);
      await loop.stop();
      assert.equal((await routerGet(port, HOST)).body, 'v1 web-1\n');
      assert.equal((await processesWith('v1-web')).length, 1, 'one web process: the killed run left none');
      const answeredAt = loop.firstSuccessAfter(restartedAt) ?? servingAt;
      figures.push(
        `idle | ${loop.failures.length} | ${loop.total} | ${readyAt - restartedAt} | ${servingAt - readyAt} | ${answeredAt - restartedAt}`,
      );
    } finally {
      await slipway.stop();
    }
  });

  const only = process.env.CHAOS_STEPS?.split(',');
  for (const step of STEPS.filter((s) => !only || only.includes(s))) {
    test(`killed during ${step}`, async () => {
      let slipway: Slipway = await startSlipway();
      const home = slipway.home;
      try {
        assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
        assert.equal((await slipway.cli(['deploy', release('v1'), '-a', APP])).code, 0);
        const [first] = (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
        await slipway.stop({ keepHome: true });

        // Start again with a pause at the step, so the kill lands exactly there.
        slipway = await startSlipway({ home, env: { SLIPWAY_CHAOS_PAUSE: `${step}:60s` } });
        const current = () => slipway.routerPort;
        await waitForValue(
          async () => ((await routerGet(current(), HOST)).status === 200 ? true : undefined),
          'v1',
          5000,
        );
        const loop = requestLoop(current);
        const deploy = slipway.cli(['deploy', release('v2'), '-a', APP]);
        const d = await waitForValue(
          async () => {
            const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
            return json[0]?.id !== first.id && json[0]?.step === step ? json[0] : undefined;
          },
          `the deployment to reach ${step}`,
          60_000,
        );
        await delay(200); // inside the step
        await slipway.kill();
        await deploy;

        // Same router port as before the crash, so the request loop sees the real downtime.
        const port = slipway.routerPort;
        const restartedAt = Date.now();
        slipway = await startSlipway({ home, args: ['--router-port', String(port)] });
        const readyAt = Date.now();
        const expected = step === 'retire' ? 'v2' : 'v1';
        await waitForValue(
          async () => {
            const res = await routerGet(current(), HOST).catch(() => null);
            return res?.status === 200 && res.body.startsWith(expected) ? true : undefined;
          },
          `${expected} to answer again`,
          5000,
          10,
        );
        const servingAt = Date.now();
        await delay(300);
        await loop.stop();

        const { json: after } = await slipway.api('GET', `/api/apps/${APP}/deployments/${d.id}`);
        if (step === 'retire') {
          assert.equal(after.status, 'success', 'the switch had happened: v2 is the release');
        } else {
          assert.equal(after.status, 'aborted');
          assert.equal(after.step, step);
          assert.match(after.error.message, /control-plane restart/);
        }

        // Nothing of the killed run is left: only the current release's two containers run.
        const [oldRelease, newRelease] = step === 'retire' ? ['v1', 'v2'] : ['v2', 'v1'];
        assert.deepEqual(await processesWith(`${oldRelease}-web`), [], `no ${oldRelease} web process`);
        assert.deepEqual(await processesWith(`${oldRelease}-worker`), [], `no ${oldRelease} worker process`);
        assert.equal((await processesWith(`${newRelease}-web`)).length, 1, `one ${newRelease} web process`);
        const { json: containers } = await slipway.api('GET', `/api/apps/${APP}/containers`);
        assert.equal(containers.length, 2);
        assert.equal(cgroupChildren(home).length, 2, 'one cgroup per running container, no stale ones');
        assert.deepEqual(
          fs
            .readFileSync('/proc/mounts', 'utf8')
            .split('\n')
            .filter((l) => l.includes(home)),
          [],
          'no mount of the killed run',
        );
        assert.deepEqual(
          fs.readdirSync(`${home}/builds`).filter((f) => !f.endsWith('.tar.gz')),
          [],
        );

        const next = await slipway.cli(['deploy', release('v3'), '-a', APP]);
        assert.equal(next.code, 0, next.stderr);
        assert.equal((await routerGet(current(), HOST)).body, 'v3 web-1\n');
        const answeredAt = loop.firstSuccessAfter(restartedAt) ?? servingAt;
        figures.push(
          `${step} | ${loop.failures.length} | ${loop.total} | ${readyAt - restartedAt} | ${servingAt - readyAt} | ${answeredAt - restartedAt}`,
        );
      } finally {
        await slipway.stop();
      }
    });
  }
});
