// The router contract, plain HTTP: routing by host, the error pages,
// round-robin, forwarded headers, streaming bodies, keep-alive reuse,
// timeouts, retries, and the requests and answers a router must refuse.
// test/router-contract.test.ts runs these cases for every Router driver.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import type { Router } from '../../src/router/types.ts';
import { silentPort } from '../helpers/local-http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { waitFor } from '../helpers/wait.ts';
import { deadPort, deferred, request, requestJson, settle, startBackend } from '../integration/router-helpers.ts';
import type { RouterUnderTest } from './router-under-test.ts';

export function proxyContract(driver: RouterUnderTest): void {
  test('routes by Host header, ignoring port, case and a trailing dot', async (t) => {
    const a = await startBackend(t, 'a-web-1');
    const b = await startBackend(t, 'b-web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost', 'www.example.com'], backends: [a.backend] });
    router.setRoute('b', { hostnames: ['b.localhost'], backends: [b.backend] });

    for (const host of ['a.localhost', 'A.LocalHost:8080', 'a.localhost.', 'WWW.example.com.:80']) {
      assert.equal((await requestJson(router, { host })).id, 'a-web-1', host);
    }
    assert.equal((await requestJson(router, { host: 'b.localhost:1234' })).id, 'b-web-1');
  });

  test('unknown host answers 404 with an HTML page', async (t) => {
    const router = await driver.start(t);
    const reply = await request(router, { host: 'nope.localhost' });
    assert.equal(reply.status, 404);
    assert.match(String(reply.headers['content-type']), /text\/html/);
    assert.match(reply.body.toString(), /No app is configured for this hostname/);
    assert.ok(reply.headers['x-request-id']);
  });

  test('removeRoute makes the hostname answer 404', async (t) => {
    const a = await startBackend(t, 'a-web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    assert.equal((await request(router, { host: 'a.localhost' })).status, 200);
    router.removeRoute('a');
    assert.equal((await request(router, { host: 'a.localhost' })).status, 404);
  });

  test('an app with no backends answers 503 naming the app', async (t) => {
    const router = await driver.start(t);
    router.setRoute('shop', { hostnames: ['shop.localhost'], backends: [] });
    const reply = await request(router, { host: 'shop.localhost' });
    assert.equal(reply.status, 503);
    assert.match(reply.body.toString(), /shop has no running web process/);
  });

  test('a backend nobody listens on answers 502', async (t) => {
    const router = await driver.start(t);
    router.setRoute('a', {
      hostnames: ['a.localhost'],
      backends: [{ id: 'gone', host: '127.0.0.1', port: await deadPort() }],
    });
    const reply = await request(router, { host: 'a.localhost' });
    assert.equal(reply.status, 502);
    assert.match(reply.body.toString(), /502 Bad Gateway/);
  });

  test('round-robins across backends', async (t) => {
    const one = await startBackend(t, 'web-1');
    const two = await startBackend(t, 'web-2');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [one.backend, two.backend] });
    const seen: unknown[] = [];
    for (let i = 0; i < 6; i++) seen.push((await requestJson(router, { host: 'a.localhost' })).id);
    assert.deepEqual(seen.filter((id) => id === 'web-1').length, 3);
    assert.deepEqual(seen.filter((id) => id === 'web-2').length, 3);
    assert.notEqual(seen[0], seen[1]);
  });

  test('sets X-Forwarded-* and X-Request-Id at the backend and on the response', async (t) => {
    const a = await startBackend(t, 'web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });

    const reply = await request(router, {
      host: 'a.localhost:8080',
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-request-id': 'abc.DEF_1-2' },
    });
    const seen = JSON.parse(reply.body.toString()).headers as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'a.localhost:8080');
    assert.equal(seen['x-forwarded-port'], String(router.address.port));
    assert.equal(seen.host, 'a.localhost:8080');
    assert.equal(seen['x-request-id'], 'abc.DEF_1-2');
    assert.equal(reply.headers['x-request-id'], 'abc.DEF_1-2');

    const generated = await request(router, { host: 'a.localhost', headers: { 'x-request-id': 'bad id; <script>' } });
    const id = generated.headers['x-request-id'];
    assert.match(String(id), /^[0-9a-f-]{36}$/);
    assert.equal((JSON.parse(generated.body.toString()).headers as Record<string, string>)['x-request-id'], id);
    const tooLong = await request(router, { host: 'a.localhost', headers: { 'x-request-id': 'x'.repeat(201) } });
    assert.notEqual(tooLong.headers['x-request-id'], 'x'.repeat(201));
  });

  test('streams a 1 MB request body to the backend and back', async (t) => {
    const echo = await startBackend(t, 'echo', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    });
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [echo.backend] });
    const body = randomBytes(1024 * 1024);
    const reply = await request(router, { host: 'a.localhost', method: 'POST', body });
    assert.equal(reply.status, 200);
    assert.ok(reply.body.equals(body));

    // Chunked upload (no Content-Length), on a method Node would not chunk by default.
    const chunked = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ port: router.address.port, host: '127.0.0.1', method: 'DELETE', agent: false });
      req.setHeader('host', 'a.localhost');
      req.setHeader('transfer-encoding', 'chunked');
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.write('hello ');
      req.end('world');
    });
    assert.equal(chunked.toString(), 'hello world');
  });

  test('reuses keep-alive connections to the backend', async (t) => {
    const a = await startBackend(t, 'web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    for (let i = 0; i < 30; i++) await requestJson(router, { host: 'a.localhost' });
    assert.ok(a.connections <= 2, `backend saw ${a.connections} connections for 30 requests`);
  });

  test('answers 504 when the backend does not answer in time', async (t) => {
    const silent = await startBackend(t, 'silent', () => {});
    const router = await driver.start(t, { upstreamTimeoutMs: 150 });
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [silent.backend] });
    const reply = await request(router, { host: 'a.localhost' });
    assert.equal(reply.status, 504);
  });

  test('a client that goes away aborts the backend request; the router keeps serving', async (t) => {
    const arrived = deferred();
    const aborted = deferred();
    const slow = await startBackend(t, 'slow', (req, res) => {
      if (req.url !== '/slow') {
        res.end('ok');
        return;
      }
      res.on('close', aborted.resolve);
      arrived.resolve();
    });
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [slow.backend] });
    await settle(router);
    const req = http.request({ port: router.address.port, host: '127.0.0.1', path: '/slow', agent: false });
    req.setHeader('host', 'a.localhost');
    req.on('error', () => {});
    req.end();
    await arrived.promise;
    req.destroy();
    await aborted.promise;
    assert.equal((await request(router, { host: 'a.localhost' })).status, 200);
  });

  test('a backend dying mid-body breaks the client response instead of hanging it', async (t) => {
    const dying = await startBackend(t, 'dying', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [dying.backend] });
    await assert.rejects(request(router, { host: 'a.localhost' }));
  });

  test('retries an idempotent request on another backend when the first refuses', async (t) => {
    const live = await startBackend(t, 'live');
    const router = await driver.start(t);
    const dead = { id: 'dead', host: '127.0.0.1', port: await deadPort() };
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [dead, live.backend] });
    // The built-in router never replays a request with a body; nginx does
    // when the connection was refused, since nothing reached the backend.
    // (First: once refused, the built-in router passes the backend over for a while.)
    const statuses = new Set<number>();
    for (let i = 0; i < 4; i++)
      statuses.add((await request(router, { host: 'a.localhost', method: 'POST', body: 'x' })).status);
    assert.deepEqual([...statuses].sort(), driver.traits.replaysRefusedRequestWithBody ? [200] : [200, 502]);
    for (let i = 0; i < 4; i++) assert.equal((await requestJson(router, { host: 'a.localhost' })).id, 'live');
  });

  test('a backend whose host does not answer costs one wait of the connect timeout, not one per request', async (t) => {
    if (!driver.traits.passesOverSilentBackend) {
      t.skip('declared: nginx answers 504 after its fixed 5 s connect timeout and does not mark the backend');
      return;
    }
    const live = await startBackend(t, 'live');
    const silent = await silentPort();
    t.after(() => silent.close());
    const router = await driver.start(t, { connectTimeoutMs: 1000 });
    const lost = { id: 'lost', host: '127.0.0.1', port: silent.port };
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [lost, live.backend] });
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      assert.equal((await requestJson(router, { host: 'a.localhost' })).id, 'live');
      waits.push(performance.now() - started);
    }
    // Each router process tries the lost backend once, then passes it over (without the mark:
    // every other request would wait the second).
    const slow = waits.filter((ms) => ms > 900).length;
    assert.ok(slow >= 1 && slow <= 2, `requests that waited for the connect timeout: ${slow} of 10`);
    // A request with a body is not replayed: it gets a 504 when it meets the lost backend.
    router.setRoute('b', { hostnames: ['b.localhost'], backends: [lost] });
    await settle(router);
    assert.equal((await request(router, { host: 'b.localhost', method: 'POST', body: 'x' })).status, 504);
  });

  test('bad requests get 400 and do not disturb the router', async (t) => {
    const a = await startBackend(t, 'web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    await settle(router);
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(router.address.port, '127.0.0.1', () => socket.write(text));
        let answer = '';
        socket.on('data', (chunk: Buffer) => {
          answer += chunk.toString('latin1');
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve(answer));
      });
    assert.match(await raw('GET /a b c\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(
      await raw('GET / HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'),
      /^HTTP\/1\.1 400/,
    );
    assert.match(await raw('GET / HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 404/);
    assert.match(await raw('GET / HTTP/1.0\r\nHost: a.localhost\r\n\r\n'), /^HTTP\/1\.1 200/);
    assert.equal((await request(router, { host: 'a.localhost' })).status, 200);
  });

  test('two Host headers are refused with 400; the backend sees nothing', async (t) => {
    const a = await startBackend(t, 'web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    await settle(router);
    for (const hosts of [
      ['a.localhost', 'a.localhost'],
      ['a.localhost', 'b.localhost'],
      ['b.localhost', 'a.localhost'],
    ]) {
      const res = await rawRequest({
        port: router.address.port,
        head: `GET / HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}`).join('\r\n')}`,
      });
      assert.equal(res.status, 400, hosts.join(' + '));
    }
    assert.equal(a.connections, 0);
  });

  test('an absolute-form request is routed by its own host and reaches the backend in origin form', async (t) => {
    const a = await startBackend(t, 'a-web-1');
    const b = await startBackend(t, 'b-web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    router.setRoute('b', { hostnames: ['b.localhost'], backends: [b.backend] });
    await settle(router);
    const res = await rawRequest({
      port: router.address.port,
      head: 'GET http://a.localhost/path?q=1 HTTP/1.1\r\nHost: b.localhost',
    });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.id, 'a-web-1');
    assert.equal(seen.url, '/path?q=1');
    assert.equal(seen.headers.host, 'a.localhost');
    assert.equal(seen.headers['x-forwarded-host'], 'a.localhost');
  });

  test('Forwarded and X-Real-IP from the client are replaced, not passed on', async (t) => {
    const a = await startBackend(t, 'web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    const reply = await requestJson(router, {
      host: 'a.localhost',
      headers: { forwarded: 'for=6.6.6.6;proto=https', 'x-real-ip': '6.6.6.6' },
    });
    const seen = reply.headers as Record<string, string>;
    assert.equal(seen['x-real-ip'], '127.0.0.1');
    assert.equal(seen.forwarded, 'for=127.0.0.1;host=a.localhost;proto=http');
  });

  test('a backend answering with conflicting Content-Length, HTTP/0.9 or an unasked 101 gets the client a 502', async (t) => {
    const answers = {
      'conflicting Content-Length': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'HTTP/0.9': 'hello from 1991\n',
      'an unasked 101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\nraw bytes',
    };
    // nginx 1.22 takes an answer without a status line for HTTP/0.9 and switches its own answer
    // to 0.9: it can no longer write a status line, so the router closes the client connection
    // without sending a byte (docs/router.md).
    const expected: Record<string, string> = {
      'conflicting Content-Length': '502',
      'HTTP/0.9': driver.traits.http09Answer,
      'an unasked 101': '502',
    };
    const router = await driver.start(t);
    const seen: Record<string, string> = {};
    const ids: string[] = [];
    for (const [what, answer] of Object.entries(answers)) {
      ids.push(await routeToRawBackend(t, router, (socket) => socket.once('data', () => socket.end(answer))));
      const res = await rawRequest({
        port: router.address.port,
        head: 'GET / HTTP/1.1\r\nHost: odd.localhost',
      }).catch((err: NodeJS.ErrnoException) => ({
        status: /: ""$/.test(err.message) || err.code === 'ECONNRESET' ? 'closed with nothing sent' : err.message,
        body: '',
      }));
      seen[what] = `${res.status}${/hello|raw bytes/.test(res.body) ? " with the backend's body" : ''}`;
      if (res.status === 502) assert.match(res.body, /502 Bad Gateway/, `${what}: the router's own page`);
    }
    assert.deepEqual(seen, expected);
    // Every refused exchange has ended: nothing is left counted in flight.
    const started = Date.now();
    await router.drain(ids, 2_000);
    assert.ok(Date.now() - started < 1_500, 'drain waited for a refused exchange');
  });

  test('after a refused answer its backend connection is closed, never reused, and a keep-alive client goes on', async (t) => {
    const answers = {
      'conflicting Content-Length': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      // A blank line ends it, so that a router waiting for a whole head sees it at once.
      'HTTP/0.9': 'hello from 1991\r\n\r\n',
      'an unasked 101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\nraw bytes',
    };
    const router = await driver.start(t);
    for (const [what, answer] of Object.entries(answers)) {
      // Keeps every connection open; the first request gets the odd answer, later ones a good one.
      const connections: net.Socket[] = [];
      const ended = new Set<net.Socket>();
      let requests = 0;
      t.after(() => {
        for (const socket of connections) socket.destroy();
      });
      await routeToRawBackend(t, router, (socket) => {
        connections.push(socket);
        socket.on('end', () => ended.add(socket));
        socket.on('data', () => {
          requests++;
          socket.write(requests === 1 ? answer : 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine');
        });
      });
      // A keep-alive client: its next request must not fail on a connection the router left unusable.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      t.after(() => agent.destroy());
      await request(router, { host: 'odd.localhost', agent }).catch(() => {});
      // At once: a pooled backend connection would be idle now, and taken for this request.
      const res = await request(router, { host: 'odd.localhost', agent });
      assert.deepEqual([res.status, res.body.toString(), connections.length], [200, 'fine', 2], what);
      await waitFor(
        () => connections[0] !== undefined && ended.has(connections[0]),
        `${what}: the router closes the connection the answer came on`,
      );
    }
  });

  test('answers that repeat a Content-Length or pair it with chunked encoding still pass', async (t) => {
    const answers = {
      'the same Content-Length twice': 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Length: 6\r\n\r\nhello!',
      'chunked beside Content-Length':
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n6\r\nhello!\r\n0\r\n\r\n',
    };
    const router = await driver.start(t);
    const seen: Record<string, string> = {};
    for (const [what, answer] of Object.entries(answers)) {
      await routeToRawBackend(t, router, (socket) => socket.once('data', () => socket.end(answer)));
      // Raw: Node's own client refuses a repeated Content-Length, which the built-in router passes on.
      const res = await rawRequest({ port: router.address.port, head: 'GET / HTTP/1.1\r\nHost: odd.localhost' });
      seen[what] = `${res.status} ${res.headers['transfer-encoding'] === 'chunked' ? dechunk(res.body) : res.body}`;
    }
    assert.deepEqual(seen, Object.fromEntries(Object.keys(answers).map((what) => [what, '200 hello!'])));
  });

  test('error pages carry their reason phrase', async (t) => {
    const router = await driver.start(t);
    router.setRoute('none', { hostnames: ['none.localhost'], backends: [] });
    router.setRoute('dead', {
      hostnames: ['dead.localhost'],
      backends: [{ id: 'dead-1', host: '127.0.0.1', port: await deadPort() }],
    });
    await settle(router);
    for (const [host, line] of [
      ['nobody.localhost', 'HTTP/1.1 404 Not Found'],
      ['none.localhost', 'HTTP/1.1 503 Service'],
      ['dead.localhost', 'HTTP/1.1 502 Bad Gateway'],
    ]) {
      const socket = net.connect(router.address.port, '127.0.0.1');
      const first = await new Promise<string>((resolve) => {
        socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1').split('\r\n')[0] ?? ''));
        socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      });
      socket.destroy();
      assert.ok(first.startsWith(line), `${host}: ${first}`);
    }
  });

  test('setRoute refuses a malformed backend and keeps the previous route', async (t) => {
    const a = await startBackend(t, 'web-1');
    const router = await driver.start(t);
    router.setRoute('a', { hostnames: ['a.localhost'], backends: [a.backend] });
    assert.throws(
      () =>
        router.setRoute('a', {
          hostnames: ['a.localhost'],
          backends: [{ id: 'x', host: '127.0.0.1', port: 70_000 }],
        }),
      { name: 'SlipwayError', code: 'internal' },
    );
    assert.equal((await request(router, { host: 'a.localhost' })).status, 200);
  });
}

async function routeToRawBackend(t: TestContext, router: Router, serve: (socket: net.Socket) => void): Promise<string> {
  const backend = net.createServer((socket) => {
    socket.on('error', () => {});
    serve(socket);
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  t.after(() => backend.close());
  const port = (backend.address() as net.AddressInfo).port;
  const id = `odd-${port}`;
  router.setRoute('odd', { hostnames: ['odd.localhost'], backends: [{ id, host: '127.0.0.1', port }] });
  await settle(router);
  return id;
}

/** The data of a chunked body (no extensions or trailers expected). */
function dechunk(body: string): string {
  let data = '';
  for (let at = 0; ; ) {
    const eol = body.indexOf('\r\n', at);
    const size = Number.parseInt(body.slice(at, eol), 16);
    if (!(size > 0)) return data;
    data += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
