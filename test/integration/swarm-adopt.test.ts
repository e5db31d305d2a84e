// `slipway server --runtime swarm` killed outright (SIGKILL): the app's
// services keep their tasks, and the next start on the same home adopts them
// as they run (same service, same task: no restart), lists and routes them and
// keeps their logs flowing; a service of a release that is not current is
// swept. SQLite store (the home survives the kill).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEngine } from '../../src/runtime/docker/index.ts';
import { homeKey } from '../../src/runtime/sandbox/network-plan.ts';
import { createReleaseImages } from '../../src/runtime/swarm/index.ts';
import { deployTwoWebs, servesAndLogs } from '../helpers/adopted-app.ts';
import { type Slipway, startSlipway } from '../helpers/slipway.ts';
import { swarmSkipReason } from '../helpers/test-swarm.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'swarmadopt';
const skip = (await swarmSkipReason()) ?? false;
const engine = createEngine();

interface Service {
  ID: string;
  Spec: { Name: string; Labels: Record<string, string> };
}

/** The app's services of the home `key`, each with its running tasks' ids, by container name. */
async function serviceTasks(key: string): Promise<Record<string, string>> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.app=${APP}`, `slipway.home=${key}`] }));
  const services = await engine.request<Service[]>('GET', `/services?filters=${filters}`);
  const entries = await Promise.all(
    services.map(async (s) => {
      const taskFilters = encodeURIComponent(JSON.stringify({ service: [s.ID], 'desired-state': ['running'] }));
      const tasks = await engine.request<{ ID: string; Status: { State: string } }[]>(
        'GET',
        `/tasks?filters=${taskFilters}`,
      );
      const running = tasks.filter((t) => t.Status.State === 'running').map((t) => t.ID);
      return [
        `${s.Spec.Labels['slipway.container']} ${s.Spec.Labels['slipway.release']}`,
        `${s.ID}/${running.join(',')}`,
      ];
    }),
  );
  return Object.fromEntries(entries.sort());
}

describe('the swarm runtime adopts the services a killed server left running', { skip }, () => {
  let slipway: Slipway;
  const args = ['--runtime', 'swarm'];

  before(async () => {
    slipway = await startSlipway({ args });
    await deployTwoWebs(slipway, APP);
  });
  after(async () => {
    const key = homeKey(slipway.home);
    await slipway?.stop();
    // A test that failed with SLIPWAY_KEEP_APPS_ON_EXIT set may have left its services.
    const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.home=${key}`] }));
    for (const s of await engine.request<Service[]>('GET', `/services?filters=${filters}`))
      await engine.request('DELETE', `/services/${s.ID}`).catch(() => {});
    await createReleaseImages(engine, key, '').removeAll();
  });

  test('SIGKILL, then a new start: the same tasks serve on, listed, routed and logged', async () => {
    const key = homeKey(slipway.home);
    const before = await serviceTasks(key);
    assert.deepEqual(Object.keys(before), ['web-1 v1', 'web-2 v1']);
    // A service of a release that is not current (a deployment killed while it booted): swept.
    const stale = await engine.request<{ ID: string }>('POST', '/services/create', {
      Name: `slipway-${key}-c-forged`,
      Labels: {
        'slipway.home': key,
        'slipway.app': APP,
        'slipway.release': 'v2',
        'slipway.container': 'web-1',
        'slipway.id': 'c-forged',
      },
      TaskTemplate: { ContainerSpec: { Image: `slipway/${key}/app-${APP}:v1`, Command: ['sleep', '600'] } },
      Mode: { Replicated: { Replicas: 1 } },
    });

    await slipway.kill();
    slipway = await startSlipway({ args, home: slipway.home });
    assert.deepEqual(await serviceTasks(key), before, 'the very same services and tasks run on');
    await waitFor(
      async () =>
        engine.request('GET', `/services/${stale.ID}`).then(
          () => false,
          () => true,
        ),
      'the service of a release that is not current to be swept',
      10_000,
    );

    const ps = await slipway.cli(['ps', '-a', APP, '--json']);
    assert.equal(ps.code, 0, ps.stderr);
    const listed = (JSON.parse(ps.stdout) as { name: string; state: string }[]).map((c) => `${c.name} ${c.state}`);
    assert.deepEqual(listed.sort(), ['web-1 up', 'web-2 up']);
    await servesAndLogs(slipway, APP);
  });

  test('a stop removes the services; with SLIPWAY_KEEP_APPS_ON_EXIT=1 it leaves them to the next start', async () => {
    const key = homeKey(slipway.home);
    const home = slipway.home;
    await slipway.stop({ keepHome: true });
    assert.deepEqual(await serviceTasks(key), {}, 'a plain stop removes them, as before');

    const env = { SLIPWAY_KEEP_APPS_ON_EXIT: '1' };
    slipway = await startSlipway({ args, env, home });
    const started = await serviceTasks(key);
    assert.deepEqual(Object.keys(started), ['web-1 v1', 'web-2 v1']);
    await slipway.stop({ keepHome: true });
    assert.deepEqual(await serviceTasks(key), started, 'left running by the stop');
    slipway = await startSlipway({ args, env, home });
    assert.deepEqual(await serviceTasks(key), started, 'adopted by the next start');
    await servesAndLogs(slipway, APP, 'after-keep');
    // The file's end stops them (a server without the setting).
    await slipway.stop({ keepHome: true });
    slipway = await startSlipway({ args, home });
  });
});
