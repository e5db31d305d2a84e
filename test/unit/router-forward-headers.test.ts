// Header rewriting of the built-in router, on raw header lists.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clientAddress,
  emptyScan,
  originForm,
  responseHeaders,
  type ScannedRequest,
  scanRequestHeaders,
} from '../../src/router/builtin/forward-headers.ts';

function scan(raw: string[], upgrade = false): ScannedRequest & { map: Map<string, string> } {
  const target = emptyScan();
  scanRequestHeaders(raw, target, '10.0.0.9', '8080', 'http', upgrade);
  const map = new Map<string, string>();
  for (let i = 0; i < target.headers.length; i += 2) {
    map.set((target.headers[i] as string).toLowerCase(), target.headers[i + 1] as string);
  }
  return { ...target, map };
}

test('adds forwarded headers, appending to X-Forwarded-For and replacing the rest', () => {
  const result = scan(['Host', 'App.localhost:8080', 'X-Forwarded-For', '1.2.3.4', 'X-Forwarded-Proto', 'https']);
  assert.equal(result.host, 'App.localhost:8080');
  assert.equal(result.map.get('host'), 'App.localhost:8080');
  assert.equal(result.map.get('x-forwarded-for'), '1.2.3.4, 10.0.0.9');
  assert.equal(result.map.get('x-forwarded-proto'), 'http');
  assert.equal(result.map.get('x-forwarded-host'), 'App.localhost:8080');
  assert.equal(result.map.get('x-forwarded-port'), '8080');
  assert.equal(result.hasBody, false);
});

test('keeps a sane X-Request-Id and replaces any other', () => {
  assert.equal(scan(['X-Request-Id', 'req_1.a-B']).requestId, 'req_1.a-B');
  for (const bad of ['has space', 'x'.repeat(201), '', 'quote"d']) {
    const id = scan(['X-Request-Id', bad]).requestId;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-/, bad);
  }
});

test('drops hop-by-hop headers, including those named in Connection, but never Host', () => {
  const result = scan([
    'Host',
    'a',
    'Connection',
    'keep-alive, X-Hop, host',
    'Keep-Alive',
    'timeout=5',
    'X-Hop',
    '1',
    'Proxy-Authorization',
    'x',
    'Upgrade',
    'h2c',
    'TE',
    'trailers',
    'Expect',
    '100-continue',
    'X-Kept',
    'yes',
  ]);
  assert.deepEqual(
    [...result.map.keys()].filter(
      (name) => !name.startsWith('x-forwarded') && !['x-request-id', 'x-real-ip', 'forwarded'].includes(name),
    ),
    ['host', 'x-kept'],
  );
});

test('an upgrade request keeps Connection and Upgrade', () => {
  const result = scan(['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket'], true);
  assert.equal(result.map.get('connection'), 'Upgrade');
  assert.equal(result.map.get('upgrade'), 'websocket');
});

test('a chunked body has no length: it goes on chunked, without the Content-Length beside it', () => {
  const chunked = scan(['Transfer-Encoding', 'chunked', 'Content-Length', '5']);
  assert.equal(chunked.hasBody, true);
  assert.equal(chunked.chunkedBody, true);
  assert.equal(chunked.map.get('transfer-encoding'), 'chunked');
  assert.equal(chunked.map.has('content-length'), false);
  assert.equal(scan(['Transfer-Encoding', 'chunked'], true).map.get('transfer-encoding'), 'chunked');
  assert.equal(scan(['Content-Length', '12']).hasBody, true);
  assert.equal(scan(['Content-Length', '0']).hasBody, false);
});

test('response headers lose hop-by-hop ones and gain the request id', () => {
  const raw = [
    'Connection',
    'X-Secret',
    'X-Secret',
    's',
    'Transfer-Encoding',
    'chunked',
    'Set-Cookie',
    'a=1',
    'Set-Cookie',
    'b=2',
    'X-Request-Id',
    'from-app',
    'Content-Disposition',
    'attachment; filename="caf\u00e9"',
  ];
  const out = responseHeaders(raw, 'rid');
  assert.deepEqual(out, [
    'Set-Cookie',
    'a=1',
    'Set-Cookie',
    'b=2',
    'Content-Disposition',
    'attachment; filename="caf\u00e9"',
    'X-Request-Id',
    'rid',
  ]);
});

test('IPv4-mapped client addresses are shown as IPv4', () => {
  assert.equal(clientAddress('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(clientAddress('2001:db8::1'), '2001:db8::1');
});

test("Forwarded and X-Real-IP are the router's own; IPv6 and host:port are quoted as RFC 7239 asks", () => {
  const v4 = scan(['Host', 'a.localhost', 'Forwarded', 'for=6.6.6.6', 'X-Real-IP', '6.6.6.6']);
  assert.equal(v4.map.get('x-real-ip'), '10.0.0.9');
  assert.equal(v4.map.get('forwarded'), 'for=10.0.0.9;host=a.localhost;proto=http');
  const target = emptyScan();
  scanRequestHeaders(['Host', 'a.localhost:8080'], target, '::1', '8080', 'http', false);
  assert.ok(target.headers.includes('for="[::1]";host="a.localhost:8080";proto=http'), target.headers.join(' '));
});

test('an absolute-form target routes by its authority; a second Host header is flagged', () => {
  assert.deepEqual(originForm('/x?y'), { path: '/x?y', authority: undefined });
  assert.deepEqual(originForm('HTTP://A.localhost:81/p?q#f'), { path: '/p?q', authority: 'A.localhost:81' });
  assert.deepEqual(originForm('http://a.localhost?q'), { path: '/?q', authority: 'a.localhost' });
  for (const bad of ['ftp://a/x', 'a.localhost/x', 'http:///x', '']) assert.equal(originForm(bad), null, bad);
  const result = scan(['Host', 'b.localhost', 'host', 'c.localhost']);
  assert.equal(result.duplicateHost, true);
  assert.equal(scan(['Host', 'b.localhost']).duplicateHost, false);
});
