// The router contract, zero downtime: route swaps under load never fail a
// request, drain() waits for in-flight requests, retired backends get no
// reused sockets. test/router-contract.test.ts runs these cases for every
// Router driver.

import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { delay as sleep, waitFor } from '../helpers/wait.ts';
import {
  deferred,
  request,
  requestJson,
  settle,
  startBackend,
  startSlowBackend,
} from '../integration/router-helpers.ts';
import type { RouterUnderTest } from './router-under-test.ts';

const host = 'app.localhost';

export function zeroDowntimeContract(driver: RouterUnderTest): void {
  test('swapping routes under load never fails a request', async (t) => {
    const setA = [await startBackend(t, 'a1'), await startBackend(t, 'a2')].map((b) => b.backend);
    const setB = [await startBackend(t, 'b1'), await startBackend(t, 'b2')].map((b) => b.backend);
    const router = await driver.start(t);
    router.setRoute('app', { hostnames: [host], backends: setA });
    await settle(router);

    let swapping = true;
    let swaps = 0;
    const swapper = (async () => {
      while (swapping) {
        await sleep(2);
        swaps++;
        router.setRoute('app', { hostnames: [host], backends: swaps % 2 === 0 ? setA : setB });
      }
    })();

    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    t.after(() => agent.destroy());
    const total = 2_000;
    let started = 0;
    const statuses = new Map<number, number>();
    const servedBy = new Set<unknown>();
    let retried = 0;
    // RFC 9112 §9.3.1: a GET whose connection closed before any answer may
    // be retried automatically; browsers do. Retries are counted (at most 2 per GET).
    const send = async (attempt = 1): Promise<Awaited<ReturnType<typeof request>>> => {
      try {
        return await request(router, { host, agent, settle: false });
      } catch (err) {
        if (attempt === 3) throw err;
        retried++;
        return send(attempt + 1);
      }
    };
    const worker = async () => {
      while (started < total) {
        started++;
        const reply = await send();
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (reply.status === 200) servedBy.add(JSON.parse(reply.body.toString()).id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker)).finally(() => {
      swapping = false;
    });
    await swapper;

    assert.deepEqual([...statuses], [[200, total]]);
    // nginx's graceful reload closes client connections that are idle
    // (keep-alive, or accepted but no request read yet); the built-in
    // router never closes a client connection on a swap.
    if (!driver.traits.reloadClosesIdleConnections) assert.equal(retried, 0);
    else t.diagnostic(`${retried} GETs retried after a reload closed their connection`);
    assert.ok(swaps > 10, `only ${swaps} swaps happened`);
    assert.deepEqual([...servedBy].sort(), ['a1', 'a2', 'b1', 'b2']);
  });

  test('drain waits for an in-flight request to finish', async (t) => {
    const slow = await startSlowBackend(t, 'old', 300);
    const fresh = await startBackend(t, 'new');
    const router = await driver.start(t);
    router.setRoute('app', { hostnames: [host], backends: [slow.backend] });

    const inFlight = request(router, { host });
    await slow.arrived;
    router.setRoute('app', { hostnames: [host], backends: [fresh.backend] });
    assert.equal((await requestJson(router, { host })).id, 'new');
    await router.drain(['old', 'new'], 5_000);
    assert.ok(slow.finishedAt() > 0, 'drain resolved before the in-flight request finished');
    const reply = await inFlight;
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'done');
  });

  test('drain resolves at once when idle, and at its timeout for a request that never finishes', async (t) => {
    const arrived = deferred();
    const hung = await startBackend(t, 'hung', (req, res) => {
      if (req.url === '/hang') arrived.resolve();
      else res.end('ok');
    });
    const router = await driver.start(t);
    router.setRoute('app', { hostnames: [host], backends: [hung.backend] });
    assert.equal((await request(router, { host })).status, 200);
    let begin = Date.now();
    await router.drain(['unknown-container'], 5_000);
    assert.ok(Date.now() - begin < 1_000, `idle drain took ${Date.now() - begin} ms`);

    const pending = request(router, { host, path: '/hang' }).catch(() => undefined);
    await arrived.promise;
    router.setRoute('app', { hostnames: [host], backends: [] });
    begin = Date.now();
    await router.drain(['hung'], 300);
    const waited = Date.now() - begin;
    assert.ok(waited >= 280 && waited < 2_000, `drain took ${waited} ms`);
    await router.close();
    await pending;
  });

  test('a retired backend keeps no pooled connections', async (t) => {
    const slowArrived = deferred();
    const old = await startBackend(t, 'old', (req, res) => {
      if (req.url === '/slow') slowArrived.resolve();
      setTimeout(() => res.end('old'), req.url === '/slow' ? 150 : 0);
    });
    const fresh = await startBackend(t, 'new');
    const router = await driver.start(t);
    router.setRoute('app', { hostnames: [host], backends: [old.backend] });

    // One busy connection, and one idle in the pool.
    const busy = request(router, { host, path: '/slow' });
    await slowArrived.promise;
    await request(router, { host });
    assert.equal(old.open.size, 2);
    router.setRoute('app', { hostnames: [host], backends: [fresh.backend] });
    await waitFor(() => old.open.size === 1, 'the idle pooled socket to close');
    assert.equal((await busy).body.toString(), 'old');
    await waitFor(() => old.open.size === 0, 'the busy socket to close once its request ended');

    // Swapping back gives a working route with fresh connections.
    router.setRoute('app', { hostnames: [host], backends: [old.backend] });
    assert.equal((await request(router, { host })).body.toString(), 'old');
  });

  test('a dead pooled connection is retried once on a fresh one for idempotent requests', async (t) => {
    // Serves one request per connection, then resets the connection when a
    // second request arrives on it: what a backend closing an idle socket
    // at the wrong moment looks like.
    let connections = 0;
    const flaky = net.createServer((socket) => {
      connections++;
      let served = 0;
      let buffered = '';
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        buffered += chunk.toString('latin1');
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        buffered = buffered.slice(end + 4);
        if (++served > 1) {
          socket.resetAndDestroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => flaky.close(() => resolve())));
    const router = await driver.start(t);
    const backend = { id: 'flaky', host: '127.0.0.1', port: (flaky.address() as AddressInfo).port };
    router.setRoute('app', { hostnames: [host], backends: [backend] });

    assert.equal((await request(router, { host })).status, 200);
    assert.equal((await request(router, { host })).status, 200);
    assert.equal(connections, 2);
    // A POST on a dead pooled socket is not replayed: of two POSTs, one
    // meets a dead pooled connection (which one depends on the driver's pool).
    const posts: number[] = [];
    for (let i = 0; i < 2; i++) posts.push((await request(router, { host, method: 'POST', body: 'x' })).status);
    assert.deepEqual(posts.sort(), [200, 502]);
  });
}
