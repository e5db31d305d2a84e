// `slipway server --runtime docker` killed outright (SIGKILL, a crash): the
// app's containers keep running and answering at their addresses, and the
// next start on the same home adopts them as they run (same container, same
// process: no restart), lists and routes them, keeps their logs flowing, and
// a later deployment replaces them as usual. What is not the current
// release's formation (another release, an app that does not exist, a
// container beyond the formation) is swept; another home's is never touched.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/router/nginx/master-process.ts';
import { createEngine, DEFAULT_STACK_IMAGE } from '../../src/runtime/docker/index.ts';
import { homeKey } from '../../src/runtime/sandbox/network-plan.ts';
import { deployTwoWebs, servesAndLogs } from '../helpers/adopted-app.ts';
import { loadLoop, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { dockerSkipReason } from '../helpers/test-docker.ts';
import { delay, waitFor } from '../helpers/wait.ts';
import { NGINX_SKIP } from './router-helpers.ts';

const APP = 'adopted';
const HOST = `${APP}.localhost`;
const skip = (await dockerSkipReason()) ?? false;
const engine = createEngine();

interface Inspected {
  Id: string;
  State: { Running: boolean; Pid: number; StartedAt: string };
  Config: { Env: string[]; Labels: Record<string, string> };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

/** The app's running containers of the home `key`. */
async function appContainers(app: string, key: string): Promise<Inspected[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.app=${app}`, `slipway.home=${key}`] }));
  const listed = await engine.request<{ Id: string }[]>('GET', `/containers/json?filters=${filters}`);
  const found = await Promise.all(listed.map((c) => engine.request<Inspected>('GET', `/containers/${c.Id}/json`)));
  return found.sort(
    (a, b) => a.Config.Labels['slipway.container']?.localeCompare(b.Config.Labels['slipway.container'] ?? '') ?? 0,
  );
}

/** GET / straight at the container's address on the home's bridge (no router). */
async function direct(c: Inspected): Promise<string> {
  const ip = Object.values(c.NetworkSettings.Networks)[0]?.IPAddress;
  const port = c.Config.Env.find((e) => e.startsWith('PORT='))?.slice(5);
  const res = await fetch(`http://${ip}:${port}/direct`, { signal: AbortSignal.timeout(5000) });
  return `${res.status} ${(await res.text()).trim()}`;
}

/** A container carrying `labels`, sleeping: what a crash could have left (or another home's). */
async function forge(name: string, labels: Record<string, string>): Promise<string> {
  const made = await engine.request<{ Id: string }>('POST', `/containers/create?name=${name}`, {
    Image: DEFAULT_STACK_IMAGE,
    Cmd: ['sleep', '600'],
    User: '65001:65001',
    Labels: labels,
    HostConfig: { Init: true },
  });
  await engine.request('POST', `/containers/${made.Id}/start`);
  return made.Id;
}

const exists = (id: string) =>
  engine.request<Inspected>('GET', `/containers/${id}/json`).then(
    (c) => c.State.Running,
    () => false,
  );

describe('the docker runtime adopts the containers a killed server left running', { skip }, () => {
  let slipway: Slipway;
  const forged: string[] = [];
  const args = ['--runtime', 'docker'];

  before(async () => {
    slipway = await startSlipway({ args });
    await deployTwoWebs(slipway, APP);
  });
  after(async () => {
    await slipway?.stop();
    await Promise.all(forged.map((id) => engine.request('DELETE', `/containers/${id}?force=1`).catch(() => {})));
  });

  test('SIGKILL, then a new start: the same containers serve on, listed, routed and logged', async () => {
    const before = await appContainers(APP, homeKey(slipway.home));
    assert.deepEqual(
      before.map((c) => c.Config.Labels['slipway.container']),
      ['web-1', 'web-2'],
    );
    const key = homeKey(slipway.home);
    const labels = (app: string, release: string, name: string, home = key) => ({
      'slipway.home': home,
      'slipway.app': app,
      'slipway.release': release,
      'slipway.container': name,
      'slipway.id': `c-forged${forged.length}`,
    });
    // A release that is not current (killed mid-deployment), an app that does not exist
    // (deleted while the server was down), one beyond the formation: swept. Another home's: left alone.
    const stale = [
      await forge(`slipway-${key}-forged-a`, labels(APP, 'v2', 'web-1')),
      await forge(`slipway-${key}-forged-b`, labels('ghost', 'v1', 'web-1')),
      await forge(`slipway-${key}-forged-c`, labels(APP, 'v1', 'web-3')),
    ];
    forged.push(...stale);
    const otherHome = await forge(`slipway-feedfeedfeed-forged-${key}`, labels(APP, 'v1', 'web-1', 'feedfeedfeed'));
    forged.push(otherHome);

    const psBefore = await slipway.cli(['ps', '-a', APP, '--json']);
    await slipway.kill();
    // The server is gone; the containers are not, and answer at their own addresses.
    for (const c of before) assert.match(await direct(c), /^200 web-\d$/);

    slipway = await startSlipway({ args, home: slipway.home });
    const afterRestart = await appContainers(APP, homeKey(slipway.home));
    assert.deepEqual(
      afterRestart.map((c) => [c.Id, c.State.Pid, c.State.StartedAt]),
      before.map((c) => [c.Id, c.State.Pid, c.State.StartedAt]),
      'the very same containers run on, never restarted',
    );
    for (const id of stale) await waitFor(async () => !(await exists(id)), `forged container ${id} swept`, 10_000);
    assert.equal(await exists(otherHome), true, "another home's container is never touched");

    const ps = await slipway.cli(['ps', '-a', APP, '--json']);
    assert.equal(ps.code, 0, ps.stderr);
    type Row = { name: string; state: string; release: string; started_at: string };
    const listed = (JSON.parse(ps.stdout) as Row[]).map((c) => `${c.name} ${c.state} ${c.release} ${c.started_at}`);
    const startedAt = (JSON.parse(psBefore.stdout) as Row[]).map((c) => `${c.name} up v1 ${c.started_at}`);
    assert.deepEqual(listed.sort(), startedAt.sort(), 'ps lists them, started when they were');

    await servesAndLogs(slipway, APP);
  });

  test('a deployment after the adoption replaces the adopted containers and removes them', async () => {
    const adopted = (await appContainers(APP, homeKey(slipway.home))).map((c) => c.Id);
    const changed = await slipway.cli(['env:set', 'AFTER=1', '-a', APP]);
    assert.equal(changed.code, 0, changed.stderr);
    for (const id of adopted) await waitFor(async () => !(await exists(id)), `adopted ${id} retired`, 15_000);
    const now = await appContainers(APP, homeKey(slipway.home));
    assert.deepEqual(
      now.map((c) => `${c.Config.Labels['slipway.container']} ${c.Config.Labels['slipway.release']}`),
      ['web-1 v2', 'web-2 v2'],
    );
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200);
  });
});

/** A request loop through the router (bounded: 60 s) across `restart`: every request answered 200, by both containers. */
async function noRequestLost(port: number, restart: () => Promise<void>): Promise<void> {
  const restarted = (async () => {
    await delay(500);
    await restart();
    await delay(1000);
  })();
  const load = await loadLoop({ port, host: HOST, until: restarted, minRequests: 300, concurrency: 4, maxMs: 60_000 });
  await restarted;
  assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.total} requests failed`);
  assert.deepEqual([...load.bodies.keys()].sort(), ['web-1\n', 'web-2\n']);
}

describe('docker runtime behind the nginx router: a SIGKILL and a restart of the server', {
  skip: skip || NGINX_SKIP,
}, () => {
  test('lose no request: nginx and the containers serve on, the new server takes both over', async () => {
    const port = await freePort('127.0.0.1');
    const args = ['--runtime', 'docker', '--router', 'nginx', '--router-port', String(port)];
    let slipway = await startSlipway({ args });
    try {
      await deployTwoWebs(slipway, APP);
      await noRequestLost(port, async () => {
        await slipway.kill();
        await delay(500); // no Slipway at all for a while
        slipway = await startSlipway({ args, home: slipway.home });
      });
      await servesAndLogs(slipway, APP);
    } finally {
      await slipway.stop();
    }
  });

  test('SLIPWAY_KEEP_APPS_ON_EXIT=1: a graceful stop and a start lose no request either; a plain stop stops all', async () => {
    const port = await freePort('127.0.0.1');
    const args = ['--runtime', 'docker', '--router', 'nginx', '--router-port', String(port)];
    const env = { SLIPWAY_KEEP_APPS_ON_EXIT: '1' };
    let slipway = await startSlipway({ args, env });
    try {
      await deployTwoWebs(slipway, APP);
      const key = homeKey(slipway.home);
      const before = (await appContainers(APP, key)).map((c) => c.Id);
      await noRequestLost(port, async () => {
        await slipway.stop({ keepHome: true }); // SIGTERM
        await delay(500);
        slipway = await startSlipway({ args, env, home: slipway.home });
      });
      assert.deepEqual(
        (await appContainers(APP, key)).map((c) => c.Id),
        before,
        'the same containers',
      );
      await servesAndLogs(slipway, APP);
    } finally {
      const key = homeKey(slipway.home);
      const home = slipway.home;
      const master = Number(readFileSync(path.join(home, 'router', 'nginx', 'nginx.pid'), 'utf8'));
      try {
        // Without the setting, a stop stops the containers and nginx as always.
        await slipway.stop({ keepHome: true });
        slipway = await startSlipway({ args, home, env: { SLIPWAY_LOG_LEVEL: 'debug' } }); // its log, if this fails
        await slipway.stop();
        const left = await appContainers(APP, key);
        assert.deepEqual(
          left.map((c) => `${c.Id} ${c.State.StartedAt}`),
          [],
          slipway.serverOutput.slice(-40).join('\n'),
        );
        await assert.rejects(routerGet(port, HOST), 'nothing listens on the router port any more');
      } finally {
        // Whatever failed above leaves nothing running.
        for (const c of await appContainers(APP, key))
          await engine.request('DELETE', `/containers/${c.Id}?force=1`).catch(() => {});
        const title = (() => {
          try {
            return readFileSync(`/proc/${master}/cmdline`, 'utf8');
          } catch {
            return '';
          }
        })();
        if (title.includes(`${home}/router/nginx`)) process.kill(master, 'SIGTERM');
      }
    }
  });
});
