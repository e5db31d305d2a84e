// The built-in router's plain HTTP path beyond the contract every driver
// passes (test/router-contract/proxy.ts): hop-by-hop headers, access entries,
// back-pressure from a slow client, a client that leaves while queued.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { AccessEntry } from '../../src/router/builtin/index.ts';
import { delay, waitFor } from '../helpers/wait.ts';
import { deferred, request, startBackend, startRouter } from './router-helpers.ts';

// Built-in router only: behaviour nginx does not offer in the same form.
test('strips hop-by-hop headers both ways', async (t) => {
  const a = await startBackend(t, 'web-1', (req, res) => {
    res.writeHead(200, { connection: 'x-private', 'x-private': 'secret', 'proxy-authenticate': 'x', 'x-kept': 'yes' });
    res.end(JSON.stringify(req.headers));
  });
  const router = await startRouter(t, 'builtin');
  router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
  const reply = await request(router, {
    host: 'a.localhost',
    headers: {
      connection: 'close, x-hop',
      'x-hop': '1',
      'proxy-authorization': 'basic x',
      te: 'trailers',
      'x-end': '1',
    },
  });
  const seen = JSON.parse(reply.body.toString()) as Record<string, string>;
  assert.equal(seen['x-hop'], undefined);
  assert.equal(seen['proxy-authorization'], undefined);
  assert.equal(seen.te, undefined);
  assert.equal(seen['x-end'], '1');
  assert.equal(reply.headers['x-private'], undefined);
  assert.equal(reply.headers['proxy-authenticate'], undefined);
  assert.equal(reply.headers['x-kept'], 'yes');
});

test('calls onAccess once per finished request', async (t) => {
  const a = await startBackend(t, 'web-1');
  const entries: AccessEntry[] = [];
  const router = await startRouter(t, 'builtin', { onAccess: (entry) => entries.push(entry) });
  router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
  await request(router, { host: 'a.localhost', path: '/x?y=1' });
  await request(router, { host: 'other.localhost', method: 'HEAD' });
  await waitFor(() => entries.length >= 2, 'two access entries');
  assert.equal(entries.length, 2);
  assert.deepEqual(
    entries.map(({ app, method, path, status }) => ({ app, method, path, status })),
    [
      { app: 'a', method: 'GET', path: '/x?y=1', status: 200 },
      { app: null, method: 'HEAD', path: '/', status: 404 },
    ],
  );
  assert.ok(entries.every((e) => e.durationMs >= 0 && e.requestId.length > 0));
});

test('a slow client slows the backend down instead of the router buffering the response', async (t) => {
  const total = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let written = 0;
  const big = await startBackend(t, 'big', (_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    const pump = () => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const router = await startRouter(t, 'builtin');
  router.setRoute('a', { hostnames: ['a.localhost'], backends: [big.backend] });
  const { res, received } = await new Promise<{ res: http.IncomingMessage; received: () => number }>(
    (resolve, reject) => {
      const req = http.get({ port: router.address.port, host: '127.0.0.1', headers: { host: 'a.localhost' } });
      req.on('error', reject);
      req.on('response', (response) => {
        let count = 0;
        response.pause();
        response.on('data', (c: Buffer) => {
          count += c.length;
        });
        resolve({ res: response, received: () => count });
      });
    },
  );
  // Socket buffers on the way hold a few MB at most; the rest must still be at the backend.
  await delay(500);
  assert.ok(written < total / 2, `backend wrote ${written} of ${total} bytes to a client that read nothing`);
  const ended = new Promise((resolve) => res.on('end', resolve));
  res.resume();
  await ended;
  assert.equal(received(), total);
});

test('a request whose client left while it waited for a backend connection never reaches the backend', async (t) => {
  const seen: string[] = [];
  const release = deferred();
  const backend = await startBackend(t, 'one', (req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/busy') release.promise.then(() => res.end('done'));
    else res.end('ok');
  });
  const router = await startRouter(t, 'builtin', { maxSocketsPerBackend: 1 });
  router.setRoute('a', { hostnames: ['a.localhost'], backends: [backend.backend] });
  const busy = request(router, { host: 'a.localhost', path: '/busy' });
  await waitFor(() => seen.length === 1, 'the busy request to reach the backend');
  const queued = http.get({
    port: router.address.port,
    host: '127.0.0.1',
    path: '/queued',
    headers: { host: 'a.localhost' },
  });
  queued.on('error', () => {});
  await delay(100);
  queued.destroy();
  await delay(100);
  release.resolve();
  assert.equal((await busy).body.toString(), 'done');
  assert.equal((await request(router, { host: 'a.localhost', path: '/after' })).status, 200);
  assert.deepEqual(seen, ['/busy', '/after']);
});

/** A backend speaking raw bytes (`serve` gets each connection), routed as odd.localhost; returns its id. */
