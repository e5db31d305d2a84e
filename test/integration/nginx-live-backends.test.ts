// The nginx driver with live backends (nginx's Lua module): a deployment
// changes only the shared dict nginx balances from, so nginx is not reloaded
// and no client connection is closed; hostname changes still reload. Without
// the module (or with it turned off) every change reloads, and still switches.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import pino from 'pino';
import { type NginxRouter, type NginxRouterOptions, startNginxRouter } from '../../src/router/nginx/index.ts';
import { findLuaModules, pushRouteTable } from '../../src/router/nginx/live-backends.ts';
import { workerPids } from '../../src/router/nginx/master-process.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  deadPort,
  deferred,
  NGINX_SKIP,
  request,
  requestJson,
  startBackend,
  startSlowBackend,
} from './router-helpers.ts';

const host = 'app.localhost';
const found = findLuaModules();
const LUA_SKIP = NGINX_SKIP || ('missing' in found ? found.missing : false);

interface Started {
  readonly router: NginxRouter;
  readonly dir: string;
  /** The master's workers now. */
  readonly workers: () => number[];
}

async function startNginx(t: TestContext, options: Partial<NginxRouterOptions> = {}): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-nginx-live-'));
  const router = await startNginxRouter({
    host: '127.0.0.1',
    port: 0,
    domain: 'localhost',
    dir,
    workers: 1,
    shutdownTimeoutMs: 10_000,
    ...options,
  });
  t.after(async () => {
    await router.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const master = Number(fs.readFileSync(path.join(dir, 'nginx.pid'), 'utf8').trim());
  return { router, dir, workers: () => workerPids(master).sort() };
}

/** A keep-alive GET on `agent`, telling which local port (client connection) carried it. */
function getOn(agent: http.Agent, port: number): Promise<{ id: string; localPort: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ id: JSON.parse(body).id, localPort: req.socket?.localPort ?? 0, reused: req.reusedSocket }),
      );
    });
    req.on('error', reject);
  });
}

describe('nginx with live backends', { skip: LUA_SKIP }, () => {
  test('a backend change does not reload nginx and is served once settled() resolves; a hostname change reloads', async (t) => {
    const a = await startBackend(t, 'a');
    const b = await startBackend(t, 'b');
    const { router, dir, workers } = await startNginx(t);
    router.setRoute('app', { hostnames: [host], backends: [a.backend] });
    await router.settled();
    assert.equal((await requestJson(router, { host })).id, 'a');
    const before = workers();
    const conf = fs.readFileSync(path.join(dir, 'nginx.conf'), 'utf8');
    assert.doesNotMatch(conf, new RegExp(`:${a.backend.port}\\b`), 'no backend in the configuration');

    for (const [next, id] of [
      [b, 'b'],
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      router.setRoute('app', { hostnames: [host], backends: [next.backend] });
      await router.settled();
      assert.equal((await requestJson(router, { host, settle: false })).id, id);
    }
    router.setRoute('app', { hostnames: [host], backends: [] });
    await router.settled();
    assert.equal((await request(router, { host, settle: false })).status, 503);
    assert.deepEqual(workers(), before, 'the same worker processes: no reload');
    assert.equal(fs.readFileSync(path.join(dir, 'nginx.conf'), 'utf8'), conf);

    // A new hostname is a new configuration: nginx reloads.
    router.setRoute('app', { hostnames: [host, 'www.example.test'], backends: [a.backend] });
    await router.settled();
    assert.equal((await requestJson(router, { host: 'www.example.test', settle: false })).id, 'a');
    assert.notDeepEqual(workers(), before);
  });

  test('a keep-alive client connection opened before a switch carries the next request to the new backend', async (t) => {
    const a = await startBackend(t, 'a');
    const b = await startBackend(t, 'b');
    const { router } = await startNginx(t);
    router.setRoute('app', { hostnames: [host], backends: [a.backend] });
    await router.settled();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());

    const first = await getOn(agent, router.address.port);
    assert.equal(first.id, 'a');
    router.setRoute('app', { hostnames: [host], backends: [b.backend] });
    await router.settled();
    const second = await getOn(agent, router.address.port);
    assert.deepEqual(second, { id: 'b', localPort: first.localPort, reused: true });
  });

  test('pooled connections to the old backend carry no request after a switch', async (t) => {
    let oldRequests = 0;
    const old = await startBackend(t, 'old', (_req, res) => {
      oldRequests++;
      res.end('old');
    });
    const fresh = await startBackend(t, 'new');
    const { router } = await startNginx(t);
    router.setRoute('app', { hostnames: [host], backends: [old.backend] });
    for (let i = 0; i < 3; i++) assert.equal((await request(router, { host })).body.toString(), 'old');
    assert.equal(old.open.size, 1, 'one pooled connection to the old backend');

    router.setRoute('app', { hostnames: [host], backends: [fresh.backend] });
    await router.settled();
    for (let i = 0; i < 20; i++) assert.equal((await requestJson(router, { host, settle: false })).id, 'new');
    assert.equal(oldRequests, 3);
    assert.equal(fresh.connections, 1, 'the new backend got its own pooled connection');
    // The unused pooled connection closes when idle (1 s), like any other.
    await waitFor(() => old.open.size === 0, 'the idle pooled connection to close', 3_000);
  });

  test('drain waits for a slow request to the old backend only, not for other requests', async (t) => {
    const slow = await startSlowBackend(t, 'old', 400);
    const hungArrived = deferred();
    const hung = await startBackend(t, 'other', () => hungArrived.resolve());
    const fresh = await startBackend(t, 'new');
    const { router } = await startNginx(t);
    router.setRoute('app', { hostnames: [host], backends: [slow.backend] });
    router.setRoute('other', { hostnames: ['other.localhost'], backends: [hung.backend] });
    const pendingOther = request(router, { host: 'other.localhost' }).catch(() => undefined);
    await hungArrived.promise;

    const inFlight = request(router, { host });
    await slow.arrived;
    router.setRoute('app', { hostnames: [host], backends: [fresh.backend] });
    await router.settled();
    assert.equal((await requestJson(router, { host, settle: false })).id, 'new');
    await router.drain(['old'], 5_000);
    assert.ok(slow.finishedAt() > 0, 'drain resolved before the in-flight request finished');
    const after = Date.now() - slow.finishedAt();
    assert.ok(after < 1_000, `drain took ${after} ms after the request ended`);
    assert.equal((await inFlight).body.toString(), 'done');
    await router.close();
    await pendingOther;
  });

  test('requests that failed, were retried or never reached a backend leave nothing in flight', async (t) => {
    const live = await startBackend(t, 'live');
    const { router } = await startNginx(t);
    const dead = { id: 'dead', host: '127.0.0.1', port: await deadPort() };
    router.setRoute('app', { hostnames: [host], backends: [dead, live.backend] });
    router.setRoute('gone', { hostnames: ['gone.localhost'], backends: [{ ...dead, id: 'gone' }] });
    for (let i = 0; i < 4; i++) assert.equal((await requestJson(router, { host })).id, 'live');
    assert.equal((await request(router, { host: 'gone.localhost' })).status, 502);
    const begin = Date.now();
    await router.drain(['dead', 'live', 'gone'], 5_000);
    assert.ok(Date.now() - begin < 500, `drain took ${Date.now() - begin} ms`);
  });

  test('a worker nginx restarts keeps the routes; the control socket is a unix socket only its owner can reach', async (t) => {
    const a = await startBackend(t, 'a');
    const { router, dir, workers } = await startNginx(t);
    router.setRoute('app', { hostnames: [host], backends: [a.backend] });
    await router.settled();
    const [worker] = workers();
    process.kill(worker as number, 'SIGKILL');
    await waitFor(() => workers().length === 1 && workers()[0] !== worker, 'nginx to start a new worker');
    assert.equal((await requestJson(router, { host })).id, 'a');

    assert.equal(fs.statSync(path.join(dir, 'control')).mode & 0o777, 0o700);
    assert.ok(fs.statSync(path.join(dir, 'control', 'control.sock')).isSocket());
    const listens = fs
      .readFileSync(path.join(dir, 'nginx.conf'), 'utf8')
      .split('\n')
      .filter((line) => /^\s*listen /.test(line));
    for (const line of listens) {
      assert.match(
        line,
        new RegExp(`listen (127\\.0\\.0\\.1:${router.address.port}|'unix:${dir}/control/control\\.sock')`),
      );
    }
  });

  test('the control server refuses a malformed route table and keeps serving the previous one', async (t) => {
    const a = await startBackend(t, 'a');
    const { router, dir } = await startNginx(t);
    router.setRoute('app', { hostnames: [host], backends: [a.backend] });
    await router.settled();
    const socket = path.join(dir, 'control', 'control.sock');
    for (const bad of ['app a 127.0.0.1 70000\n', 'app a 127.0.0.1\n', 'app a;b 127.0.0.1 80\n', 'a p p\n']) {
      await assert.rejects(pushRouteTable(socket, bad), /refused the route table \(400\)/);
    }
    assert.equal((await requestJson(router, { host })).id, 'a');
  });
});

describe('nginx without live backends', { skip: NGINX_SKIP }, () => {
  test('every switch reloads nginx, and traffic moves; the start says so once', async (t) => {
    const a = await startBackend(t, 'a');
    const b = await startBackend(t, 'b');
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const { router, dir, workers } = await startNginx(t, { liveBackends: false, logger });
    const said = lines.filter((line) => line.includes('every route change'));
    assert.equal(said.length, 1, lines.join(''));
    assert.match(said[0] ?? '', /live backends were turned off.*keep-alive/);
    assert.doesNotMatch(fs.readFileSync(path.join(dir, 'nginx.conf'), 'utf8'), /lua/);
    router.setRoute('app', { hostnames: [host], backends: [a.backend] });
    assert.equal((await requestJson(router, { host })).id, 'a');
    const before = workers();
    router.setRoute('app', { hostnames: [host], backends: [b.backend] });
    await router.settled();
    assert.equal((await requestJson(router, { host, settle: false })).id, 'b');
    assert.notDeepEqual(workers(), before, 'a reload started new workers');
    assert.equal(lines.filter((line) => line.includes('every route change')).length, 1);
  });
});
