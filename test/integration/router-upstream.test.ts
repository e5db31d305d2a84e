// The built-in router's upstream HTTP/1.1 client against backends that speak
// raw bytes: every framing a backend may use, informational answers, broken
// responses, and the keep-alive rules (reuse, hints, idle close, the retry when
// a pooled connection dies). nginx has its own client, so these run on the
// built-in driver only.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import type { Router } from '../../src/router/types.ts';
import { waitFor } from '../helpers/wait.ts';
import { request, startRouter } from './router-helpers.ts';

interface RawBackend {
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections closed so far, by either side. */
  closed: number;
  /** Request heads received, in order, each with its connection's number (1-based). */
  readonly requests: { connection: number; head: string }[];
}

/** What a raw backend does with one request: bytes to write, optionally ending the connection after them. */
type RawAnswer = string | { readonly write: string; readonly end: true } | 'destroy';

/** A backend that reads request heads (no bodies) and answers each as `answer` says. */
async function startRawBackend(
  t: TestContext,
  answer: (index: number, head: string) => RawAnswer,
): Promise<RawBackend> {
  const self: RawBackend = { port: 0, connections: 0, closed: 0, requests: [] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const connection = ++self.connections;
    sockets.add(socket);
    socket.on('close', () => {
      self.closed++;
      sockets.delete(socket);
    });
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        self.requests.push({ connection, head });
        const reply = answer(self.requests.length - 1, head);
        if (reply === 'destroy') socket.destroy();
        else if (typeof reply === 'string') socket.write(reply, 'latin1');
        else socket.end(reply.write, 'latin1');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (self as { port: number }).port = (server.address() as net.AddressInfo).port;
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return self;
}

async function routeTo(t: TestContext, backend: RawBackend, options = {}): Promise<Router> {
  const router = await startRouter(t, 'builtin', options);
  router.setRoute('a', {
    hostnames: ['a.localhost'],
    backends: [{ id: 'raw', host: '127.0.0.1', port: backend.port }],
  });
  return router;
}

/** One keep-alive client connection, so that client-side connections do not hide backend-side reuse. */
function keepAlive(t: TestContext): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  return agent;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

test('every body framing reaches the client intact over one reused backend connection', async (t) => {
  const answers = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfixed',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n3;ext=1\r\nchu\r\n4\r\nnked\r\n0\r\nX-Trailer: t\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n',
    'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nmade',
  ];
  const backend = await startRawBackend(t, (index) => answers[index] ?? 'destroy');
  const router = await routeTo(t, backend);
  const agent = keepAlive(t);
  const fixed = await request(router, { host: 'a.localhost', agent });
  assert.deepEqual([fixed.status, fixed.body.toString()], [200, 'fixed']);
  const chunked = await request(router, { host: 'a.localhost', agent });
  assert.deepEqual([chunked.status, chunked.body.toString(), chunked.headers['x-kind']], [200, 'chunked', 'chunked']);
  const head = await request(router, { host: 'a.localhost', agent, method: 'HEAD' });
  assert.deepEqual([head.status, head.headers['content-length'], head.body.length], [200, '7', 0]);
  const noContent = await request(router, { host: 'a.localhost', agent });
  assert.deepEqual([noContent.status, noContent.body.length], [204, 0]);
  const notModified = await request(router, { host: 'a.localhost', agent });
  assert.deepEqual([notModified.status, notModified.headers.etag], [304, '"v1"']);
  const created = await request(router, { host: 'a.localhost', agent, method: 'PUT' });
  assert.deepEqual([created.status, created.body.toString()], [201, 'made']);
  assert.equal(backend.connections, 1, 'one backend connection carried all six exchanges');
  assert.match(backend.requests[2]?.head ?? '', /^HEAD \/ HTTP\/1\.1\r\n/);
});

test('a body that runs to the connection end is passed on whole, and that connection is not reused', async (t) => {
  const backend = await startRawBackend(t, () => ({
    write: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end',
    end: true,
  }));
  const router = await routeTo(t, backend);
  for (let i = 0; i < 2; i++) {
    const reply = await request(router, { host: 'a.localhost' });
    assert.deepEqual([reply.status, reply.body.toString()], [200, 'until the end']);
  }
  assert.equal(backend.connections, 2);
});

test('broken responses answer 502 and leave the router serving', async (t) => {
  const broken = [
    'SSH-2.0-OpenSSH_9.2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!',
    'HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nContent-Length: 2\r\n\r\nok',
    `HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\nok`,
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
  ];
  const backend = await startRawBackend(t, (index) => (index % 2 === 0 ? (broken[index / 2] ?? OK) : OK));
  const router = await routeTo(t, backend);
  for (const response of broken) {
    const reply = await request(router, { host: 'a.localhost' });
    assert.equal(reply.status, 502, JSON.stringify(response.slice(0, 40)));
    assert.match(reply.body.toString(), /502 Bad Gateway/);
    const after = await request(router, { host: 'a.localhost' });
    assert.deepEqual([after.status, after.body.toString()], [200, 'ok']);
  }
});

test('a pooled connection closed by the backend as a request arrives: GET is retried on a fresh one, POST is not', async (t) => {
  // Every connection's second request is met by a close, the race a
  // keep-alive timeout on the backend's side produces.
  const perConnection = new Map<number, number>();
  const backend = await startRawBackend(t, (index) => {
    const connection = backend.requests[index]?.connection ?? 0;
    const count = (perConnection.get(connection) ?? 0) + 1;
    perConnection.set(connection, count);
    return count === 2 ? 'destroy' : OK;
  });
  const router = await routeTo(t, backend);
  assert.equal((await request(router, { host: 'a.localhost' })).status, 200);
  const retried = await request(router, { host: 'a.localhost' });
  assert.deepEqual([retried.status, retried.body.toString()], [200, 'ok']);
  assert.equal(backend.connections, 2, 'the retry went out on a new connection');
  // The fresh connection served one request only; the pooled one is gone: POST finds a new one.
  assert.equal((await request(router, { host: 'a.localhost', method: 'POST' })).status, 200);
  const post = await request(router, { host: 'a.localhost', method: 'POST' });
  assert.equal(post.status, 502, 'a POST that may have reached the app is not sent twice');
  assert.equal(backend.requests.filter((r) => r.head.startsWith('POST')).length, 2);
});

test('idle backend connections are closed after the idle limit, sooner when the backend asks', async (t) => {
  const backend = await startRawBackend(t, () => OK);
  const router = await routeTo(t, backend, { idleSocketMs: 150 });
  await request(router, { host: 'a.localhost' });
  assert.equal(backend.closed, 0);
  await waitFor(() => backend.closed === 1, 'the idle connection to be closed by the router', 3000);

  const hinting = await startRawBackend(
    t,
    () => 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok',
  );
  const router2 = await routeTo(t, hinting);
  const agent = keepAlive(t);
  await request(router2, { host: 'a.localhost', agent });
  await request(router2, { host: 'a.localhost', agent });
  // A one-second hint leaves no safe time to reuse: each request has its own connection.
  assert.equal(hinting.connections, 2);
});

test('an answer before the request body is sent (an early 413) reaches the client; the router keeps serving', async (t) => {
  const backend = await startRawBackend(t, (index) =>
    index === 0 ? { write: 'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!', end: true } : OK,
  );
  const router = await routeTo(t, backend);
  const agent = keepAlive(t);
  const reply = await request(router, {
    host: 'a.localhost',
    agent,
    method: 'POST',
    body: Buffer.alloc(4 * 1024 * 1024),
  });
  assert.deepEqual([reply.status, reply.body.toString()], [413, 'too big!']);
  const after = await request(router, { host: 'a.localhost', agent });
  assert.deepEqual([after.status, after.body.toString()], [200, 'ok']);
});

test('a slow client reading a response of many small chunks: body intact, one drain listener at a time', async (t) => {
  const piece = 'x'.repeat(1000);
  const chunks = `${piece.length.toString(16)}\r\n${piece}\r\n`.repeat(4000);
  const backend = await startRawBackend(
    t,
    () => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
  );
  const router = await routeTo(t, backend);
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  t.after(() => process.removeListener('warning', onWarning));
  const received = await new Promise<number>((resolve, reject) => {
    const req = http.get({ port: router.address.port, host: '127.0.0.1', headers: { host: 'a.localhost' } });
    req.on('error', reject);
    req.on('response', (res) => {
      res.pause();
      let count = 0;
      res.on('data', (chunk: Buffer) => {
        count += chunk.length;
      });
      res.on('end', () => resolve(count));
      setTimeout(() => res.resume(), 300);
    });
  });
  assert.equal(received, 4000 * piece.length);
  assert.deepEqual(
    warnings.map((w) => w.name),
    [],
  );
});

test('responses written in random small pieces, many at once: every body arrives intact', async (t) => {
  // A fixed seed: a failure names a reproducible sequence of splits.
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const bodyFor = (url: string) => `${url}:`.repeat(1 + ((url.length * 37) % 400));
  const responseFor = (head: string): string => {
    const [method = '', url = ''] = head.split(' ');
    const body = bodyFor(url);
    if (url.startsWith('/chunked')) {
      let chunks = '';
      for (let at = 0; at < body.length; ) {
        const size = 1 + random(300);
        const piece = body.slice(at, at + size);
        chunks += `${piece.length.toString(16)}\r\n${piece}\r\n`;
        at += size;
      }
      return `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
    }
    const head200 = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
    return method === 'HEAD' ? head200 : head200 + body;
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const response = responseFor(buffered.slice(0, end));
      buffered = buffered.slice(end + 4);
      // Each piece in its own write, a millisecond apart: separate reads at the router.
      const writePieces = (at: number) => {
        if (at >= response.length || socket.destroyed) return;
        const size = 1 + random(120);
        socket.write(response.slice(at, at + size), 'latin1');
        setTimeout(writePieces, 1, at + size);
      };
      writePieces(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const router = await startRouter(t, 'builtin');
  const port = (server.address() as net.AddressInfo).port;
  router.setRoute('a', { hostnames: ['a.localhost'], backends: [{ id: 'raw', host: '127.0.0.1', port }] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 12 });
  t.after(() => agent.destroy());
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: 12 }, async (_, client) => {
      for (let i = 0; i < 12; i++) {
        const kind = ['fixed', 'chunked', 'head'][(client + i) % 3] as string;
        const url = `/${kind}/${client}-${i}`;
        const reply = await request(router, {
          host: 'a.localhost',
          agent,
          path: url,
          method: kind === 'head' ? 'HEAD' : 'GET',
        });
        const expected = kind === 'head' ? '' : bodyFor(url);
        if (reply.status !== 200 || reply.body.toString('latin1') !== expected)
          failures.push(`${url}: ${reply.status}`);
      }
    }),
  );
  assert.deepEqual(failures, []);
});
