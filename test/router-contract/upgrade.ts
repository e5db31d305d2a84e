// The router contract, upgrades: tunnels both ways, refused upgrades, a
// backend that does not switch. test/router-contract.test.ts runs these
// cases for every Router driver.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import type { Router } from '../../src/router/types.ts';
import { silentPort } from '../helpers/local-http.ts';
import { deadPort, settle, startBackend } from '../integration/router-helpers.ts';
import type { RouterUnderTest } from './router-under-test.ts';

export const host = 'ws.localhost';

/** A backend whose `Upgrade: echo` answers 101 and echoes bytes; other upgrades get 400. */
export async function startEchoBackend(t: TestContext) {
  const backend = await startBackend(t, 'echo');
  const seen: http.IncomingHttpHeaders[] = [];
  backend.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push(req.headers);
    socket.on('error', () => {});
    if (req.headers.upgrade !== 'echo') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno');
      return;
    }
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  return { backend: backend.backend, seen };
}

export interface UpgradeResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly socket?: Socket;
  readonly body?: string;
}

export async function upgrade(t: TestContext, router: Router, protocol = 'echo'): Promise<UpgradeResult> {
  await settle(router);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: router.address.port,
      agent: false,
      headers: { host, connection: 'Upgrade', upgrade: protocol },
    });
    req.on('error', reject);
    req.on('upgrade', (res, socket: Socket) => {
      t.after(() => socket.destroy());
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.end();
  });
}

export function readSome(socket: Socket, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.length < length) return;
      socket.removeListener('data', onData);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

export function upgradeContract(driver: RouterUnderTest): void {
  test('tunnels an upgraded connection both ways, with forwarded headers', async (t) => {
    const echo = await startEchoBackend(t);
    const router = await driver.start(t);
    router.setRoute('ws', { hostnames: [host], backends: [echo.backend] });

    const result = await upgrade(t, router);
    assert.equal(result.status, 101);
    const socket = result.socket as Socket;
    socket.write('hello');
    assert.equal(await readSome(socket, 5), 'hello');
    socket.write(' again');
    assert.equal(await readSome(socket, 6), ' again');

    const seen = echo.seen[0] as http.IncomingHttpHeaders;
    assert.equal(seen.upgrade, 'echo');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-host'], host);
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.match(String(seen['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('a rejected upgrade passes the backend answer through', async (t) => {
    const echo = await startEchoBackend(t);
    const router = await driver.start(t);
    router.setRoute('ws', { hostnames: [host], backends: [echo.backend] });
    const result = await upgrade(t, router, 'other');
    assert.equal(result.status, 400);
    assert.equal(result.body, 'no');
  });

  test('upgrade failures answer 404, 503 and 502 like plain requests', async (t) => {
    const router = await driver.start(t);
    const unknown = await upgrade(t, router);
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body), /No app is configured for this hostname/);

    router.setRoute('ws', { hostnames: [host], backends: [] });
    const empty = await upgrade(t, router);
    assert.equal(empty.status, 503);
    assert.match(String(empty.body), /ws has no running web process/);

    router.setRoute('ws', {
      hostnames: [host],
      backends: [{ id: 'gone', host: '127.0.0.1', port: await deadPort() }],
    });
    assert.equal((await upgrade(t, router)).status, 502);
  });

  test('a refused upgrade moves to another backend', async (t) => {
    const echo = await startEchoBackend(t);
    const router = await driver.start(t);
    const dead = { id: 'gone', host: '127.0.0.1', port: await deadPort() };
    router.setRoute('ws', { hostnames: [host], backends: [dead, echo.backend] });
    for (let i = 0; i < 2; i++) assert.equal((await upgrade(t, router)).status, 101);
  });

  test('an upgrade to a backend whose host does not answer moves on after the connect timeout', async (t) => {
    if (!driver.traits.passesOverSilentBackend) {
      t.skip('declared: nginx answers 504 after its fixed 5 s connect timeout');
      return;
    }
    const echo = await startEchoBackend(t);
    const silent = await silentPort();
    t.after(() => silent.close());
    const router = await driver.start(t, { connectTimeoutMs: 500 });
    router.setRoute('ws', {
      hostnames: [host],
      backends: [{ id: 'lost', host: '127.0.0.1', port: silent.port }, echo.backend],
    });
    for (let i = 0; i < 3; i++) assert.equal((await upgrade(t, router)).status, 101);
  });
}
