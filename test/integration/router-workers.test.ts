// The built-in router with router worker processes: the test process is the
// router's server process and forks one worker; each backend records which
// process proxied each request (/proc), so every test knows the worker really
// served. Route changes, drain, access entries, restarts and close.

import assert from 'node:assert/strict';
import type http from 'node:http';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { type BuiltinRouter, type BuiltinRouterOptions, startBuiltinRouter } from '../../src/router/builtin/index.ts';
import { delay, waitFor } from '../helpers/wait.ts';
import { type Reply, request } from './router-helpers.ts';
import { type OwnedBackend, startOwnedBackend } from './router-worker-helpers.ts';

const HOST = 'app.localhost';

async function startWorkers(t: TestContext, options: Partial<BuiltinRouterOptions> = {}): Promise<BuiltinRouter> {
  const router = await startBuiltinRouter({ host: '127.0.0.1', port: 0, domain: 'localhost', workers: 2, ...options });
  t.after(() => router.close());
  await router.workersListening();
  return router;
}

/** `count` requests at once, each on its own connection, so that both processes accept some. */
function burst(router: BuiltinRouter, count = 20): Promise<Reply[]> {
  return Promise.all(Array.from({ length: count }, () => request(router, { host: HOST, settle: false })));
}

/** Bursts until requests reached `backend` through both the server process and a worker. */
async function untilBothServed(router: BuiltinRouter, backend: OwnedBackend): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let round = 0; round < 50; round++) {
    replies.push(...(await burst(router)));
    const workers = router.workerPids();
    if (
      backend.owners.includes(process.pid) &&
      backend.owners.some((pid) => pid !== undefined && workers.includes(pid))
    )
      return replies;
  }
  assert.fail(`requests did not reach both processes: ${JSON.stringify(backend.owners.slice(-20))}`);
}

const servedByWorker = (router: BuiltinRouter, backend: OwnedBackend) =>
  backend.owners.filter((pid) => pid !== undefined && router.workerPids().includes(pid)).length;

test('both processes accept connections on the router port', async (t) => {
  let router: BuiltinRouter | undefined;
  const backend = await startOwnedBackend(t, 'web-1', () => router as BuiltinRouter);
  router = await startWorkers(t);
  assert.equal(router.workerPids().length, 1);
  router.setRoute('app', { hostnames: [HOST], backends: [backend.backend] });
  await router.settled();
  const replies = await untilBothServed(router, backend);
  assert.ok(replies.every((r) => r.status === 200 && r.body.toString() === 'web-1'));
});

test('once settled() resolves, every process routes with the new table', async (t) => {
  let router: BuiltinRouter | undefined;
  const old = await startOwnedBackend(t, 'old', () => router as BuiltinRouter);
  const next = await startOwnedBackend(t, 'next', () => router as BuiltinRouter);
  router = await startWorkers(t);
  const workers = router.workerPids();
  router.setRoute('app', { hostnames: [HOST], backends: [old.backend] });
  await router.settled();
  await untilBothServed(router, old);

  router.setRoute('app', { hostnames: [HOST], backends: [next.backend] });
  await router.settled();
  const replies = await untilBothServed(router, next);
  assert.deepEqual(new Set(replies.map((r) => r.body.toString())), new Set(['next']));

  router.removeRoute('app');
  router.setRoute('other', { hostnames: ['other.localhost'], backends: [old.backend] });
  await router.settled();
  const before = next.owners.length;
  const gone = await burst(router, 40);
  assert.deepEqual(new Set(gone.map((r) => r.status)), new Set([404]));
  assert.equal(next.owners.length, before, 'no process still routes the removed app');
  // A worker that misses a change is killed (and restarted with the whole table): that must not have been needed.
  assert.deepEqual(router.workerPids(), workers);
});

test('drain() waits for a request in flight through the worker', async (t) => {
  let router: BuiltinRouter | undefined;
  const held: { res: http.ServerResponse; owner: number | undefined }[] = [];
  const backend = await startOwnedBackend(
    t,
    'slow',
    () => router as BuiltinRouter,
    (req, res) => {
      req.resume();
      held.push({ res, owner: backend.owners.at(-1) });
    },
  );
  router = await startWorkers(t);
  router.setRoute('app', { hostnames: [HOST], backends: [backend.backend] });
  await router.settled();
  const workerPid = router.workerPids()[0];
  const replies: Promise<Reply>[] = [];
  // Held requests until one is in flight through the worker; the others are answered at once.
  for (let i = 0; i < 200 && !held.some((h) => h.owner === workerPid); i++) {
    replies.push(request(router, { host: HOST, settle: false }));
    await waitFor(() => held.length === replies.length, 'the request at the backend');
  }
  const [throughWorker, throughServer] = [
    held.filter((h) => h.owner === workerPid),
    held.filter((h) => h.owner !== workerPid),
  ];
  assert.ok(throughWorker.length > 0, 'a request went through the worker');
  for (const h of throughServer) h.res.end('done');

  let drained = false;
  const drain = router.drain(['slow'], 10_000).then(() => {
    drained = true;
  });
  await delay(300);
  assert.equal(drained, false, 'drain() returned while the worker still had a request in flight');
  for (const h of throughWorker) h.res.end('done');
  await drain;
  assert.ok((await Promise.all(replies)).every((r) => r.status === 200 && r.body.toString() === 'done'));
});

test('access entries of requests the worker served reach onAccess, in batches', async (t) => {
  const entries: { app: string | null; status: number; path: string }[] = [];
  let router: BuiltinRouter | undefined;
  const backend = await startOwnedBackend(t, 'web-1', () => router as BuiltinRouter);
  router = await startWorkers(t, { onAccess: (entry) => entries.push(entry) });
  router.setRoute('app', { hostnames: [HOST], backends: [backend.backend] });
  await router.settled();
  const replies = await untilBothServed(router, backend);
  await waitFor(() => entries.length === replies.length, `${replies.length} access entries (got ${entries.length})`);
  assert.ok(entries.every((e) => e.app === 'app' && e.status === 200 && e.path === '/'));
  assert.ok(servedByWorker(router, backend) > 0);
});

test('a worker killed with SIGKILL is started again, with the current table, and traffic keeps flowing', async (t) => {
  let router: BuiltinRouter | undefined;
  const first = await startOwnedBackend(t, 'first', () => router as BuiltinRouter);
  const second = await startOwnedBackend(t, 'second', () => router as BuiltinRouter);
  router = await startWorkers(t, { workerRestartBackoffMs: 200 });
  router.setRoute('app', { hostnames: [HOST], backends: [first.backend] });
  await router.settled();
  await untilBothServed(router, first);
  const [killed] = router.workerPids();
  process.kill(killed as number, 'SIGKILL');

  // The server process alone serves meanwhile, and a route change made now reaches the new worker.
  const during = await burst(router, 20);
  assert.deepEqual(new Set(during.map((r) => r.status)), new Set([200]));
  router.setRoute('app', { hostnames: [HOST], backends: [second.backend] });
  await router.settled();
  await waitFor(() => router.workerPids().some((pid) => pid !== killed), 'a new worker', 5_000);
  await router.workersListening();
  const replies = await untilBothServed(router, second);
  assert.deepEqual(new Set(replies.map((r) => r.body.toString())), new Set(['second']));
});

test('close() stops the worker processes', async (t) => {
  const router = await startWorkers(t);
  const pids = router.workerPids();
  assert.equal(pids.length, 1);
  await router.close();
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} still runs`);
});

test('workers: 1 forks nothing', async (t) => {
  const router = await startWorkers(t, { workers: 1 });
  assert.deepEqual(router.workerPids(), []);
});
