// `slipway server --router-workers 2` end to end: a router worker process
// next to the server, proxying to a deployed app; its requests' access lines
// in `slipway logs`; a killed worker replaced; no worker left behind after
// the server itself is killed with SIGKILL.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';
import { routerWorkerPids } from './router-worker-helpers.ts';

const APP = 'workerlogs';
const HOST = `${APP}.localhost`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` holds an established TCP connection not on `routerPort`: one to an app, so it proxied. */
function hasUpstreamConnection(pid: number, routerPort: number): boolean {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const routerSuffix = `:${routerPort.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .some((f) => f[3] === '01' && !f[1]?.endsWith(routerSuffix) && inodes.has(f[9] ?? ''));
}

/** One GET on its own connection. */
function get(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host: HOST }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('router request timed out')));
  });
}

describe('slipway server --router-workers 2', () => {
  let slipway: Slipway;
  let sent = 0;

  /** Bursts of requests with numbered paths until the worker `pid` proxied some; returns the paths. */
  async function untilWorkerProxied(pid: number): Promise<string[]> {
    const paths: string[] = [];
    for (let round = 0; round < 50; round++) {
      const batch = Array.from({ length: 20 }, () => `/req-${++sent}`);
      paths.push(...batch);
      const statuses = await Promise.all(batch.map((p) => get(slipway.routerPort, p)));
      assert.deepEqual(new Set(statuses), new Set([200]));
      if (hasUpstreamConnection(pid, slipway.routerPort)) return paths;
    }
    assert.fail(`router worker ${pid} proxied none of ${paths.length} requests`);
  }

  before(async () => {
    slipway = await startSlipway({ args: ['--router-workers', '2'] });
    const deployed = await slipway.cli(['deploy', fixtureCopy('logs-app'), '-a', APP, '--create']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('access lines of requests a router worker served reach slipway logs', async () => {
    const [worker] = await waitForValue(
      () =>
        routerWorkerPids(slipway.pid as number).length === 1 ? routerWorkerPids(slipway.pid as number) : undefined,
      'one router worker process',
      10_000,
    );
    const paths = await untilWorkerProxied(worker as number);
    const logged = async () => {
      const { stdout } = await slipway.cli(['logs', '-a', APP, '--type', 'router', '--lines', '10000']);
      const seen = new Set([...stdout.matchAll(/ router: method=GET path=(\/req-\d+) status=200 /g)].map((m) => m[1]));
      return paths.filter((p) => !seen.has(p));
    };
    await waitFor(async () => (await logged()).length === 0, 'an access line for every request', 10_000, 200);
  });

  test('a killed router worker is started again and traffic keeps flowing', async () => {
    const [killed] = routerWorkerPids(slipway.pid as number);
    process.kill(killed as number, 'SIGKILL');
    for (let i = 0; i < 5; i++) assert.equal(await get(slipway.routerPort, `/during-${i}`), 200);
    const [replacement] = await waitForValue(
      () => {
        const now = routerWorkerPids(slipway.pid as number);
        return now.length === 1 && now[0] !== killed ? now : undefined;
      },
      'a new router worker',
      10_000,
    );
    await untilWorkerProxied(replacement as number);
  });

  test('SIGKILL of the server leaves no router worker behind', async () => {
    const workers = routerWorkerPids(slipway.pid as number);
    assert.equal(workers.length, 1);
    await slipway.kill();
    await waitFor(() => !workers.some(alive), `router worker ${workers.join()} to exit`, 5_000);
    // Started again on the same home, and stopped properly, the app's container is cleaned up too.
    slipway = await startSlipway({ home: slipway.home, args: ['--router-workers', '2'] });
  });
});
