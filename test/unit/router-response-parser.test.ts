// The router's upstream response parser, fed the bytes a backend could send,
// whole and split at every possible point.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseParser } from '../../src/router/builtin/upstream/response-parser.ts';

interface Parsed {
  status: number;
  statusText: string;
  headers: string[];
  body: string;
  ended: boolean;
  error: string | null;
  reusable: boolean;
  keepAliveHintMs: number;
}

/** Feeds `pieces` in order, then (when `close`) the connection's end. */
function parse(method: string, pieces: readonly (string | Buffer)[], close = false): Parsed {
  const out: Parsed = {
    status: 0,
    statusText: '',
    headers: [],
    body: '',
    ended: false,
    error: null,
    reusable: true,
    keepAliveHintMs: -1,
  };
  const parser = new ResponseParser(
    {
      onHead(status, statusText, headers) {
        out.status = status;
        out.statusText = statusText;
        out.headers = headers;
      },
      onBody(chunk) {
        out.body += chunk.toString('latin1');
      },
    },
    1024,
  );
  parser.expect(method);
  for (const piece of pieces) {
    out.error ??= parser.feed(typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece);
  }
  if (close) out.error ??= parser.finish();
  out.ended = parser.done;
  out.reusable = parser.reusable;
  out.keepAliveHintMs = parser.keepAliveHintMs;
  return out;
}

/** Every way of cutting `text` in two, plus one byte at a time. */
function splits(text: string): string[][] {
  const all: string[][] = [[...text]];
  for (let i = 1; i < text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  return all;
}

test('a Content-Length body, however the bytes arrive', () => {
  const response = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world';
  for (const pieces of splits(response)) {
    const parsed = parse('GET', pieces);
    assert.equal(parsed.error, null);
    assert.equal(parsed.status, 200);
    assert.equal(parsed.statusText, 'OK');
    assert.deepEqual(parsed.headers, ['Content-Type', 'text/plain', 'Content-Length', '11']);
    assert.equal(parsed.body, 'hello world');
    assert.equal(parsed.ended, true);
    assert.equal(parsed.reusable, true);
  }
});

test('a chunked body with extensions and trailers, however the bytes arrive', () => {
  const response =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;name=value\r\nhello\r\n1 \r\n \r\nA\r\n0123456789\r\n0\r\nX-Checksum: 1\r\n\r\n';
  for (const pieces of splits(response)) {
    const parsed = parse('GET', pieces);
    assert.equal(parsed.error, null, JSON.stringify(pieces));
    assert.equal(parsed.body, 'hello 0123456789');
    assert.equal(parsed.ended, true);
    assert.equal(parsed.reusable, true);
  }
});

test('answers without a body: HEAD, 204 and 304 end at the head, whatever their headers say', () => {
  const head = parse('HEAD', ['HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n']);
  assert.deepEqual([head.ended, head.body, head.reusable], [true, '', true]);
  const chunkedHead = parse('HEAD', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n']);
  assert.deepEqual([chunkedHead.ended, chunkedHead.reusable], [true, true]);
  for (const status of [204, 304]) {
    const parsed = parse('GET', [`HTTP/1.1 ${status} X\r\nContent-Length: 12\r\n\r\n`]);
    assert.deepEqual([parsed.status, parsed.ended, parsed.body, parsed.reusable], [status, true, '', true]);
  }
});

test('informational answers are skipped; an unasked 101 is an error', () => {
  const parsed = parse('GET', [
    'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  ]);
  assert.deepEqual([parsed.status, parsed.body, parsed.ended], [200, 'ok', true]);
  assert.deepEqual(parsed.headers, ['Content-Length', '2']);
  assert.match(String(parse('GET', ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n']).error), /101/);
});

test('a body without length runs to the connection end, and the connection is not reused', () => {
  const open = parse('GET', ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome ', 'bytes']);
  assert.deepEqual([open.body, open.ended, open.reusable], ['some bytes', false, false]);
  const closed = parse('GET', ['HTTP/1.1 200 OK\r\n\r\nsome ', 'bytes'], true);
  assert.deepEqual([closed.body, closed.ended, closed.error], ['some bytes', true, null]);
  const unknownCoding = parse(
    'GET',
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabc'],
    true,
  );
  assert.deepEqual([unknownCoding.body, unknownCoding.ended, unknownCoding.reusable], ['abc', true, false]);
});

test('what keeps a connection from being reused', () => {
  const ok = 'Content-Length: 0\r\n\r\n';
  assert.equal(parse('GET', [`HTTP/1.1 200 OK\r\nConnection: close\r\n${ok}`]).reusable, false);
  assert.equal(parse('GET', [`HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n${ok}`]).reusable, false);
  assert.equal(parse('GET', [`HTTP/1.1 200 OK\r\nConnection: closer\r\n${ok}`]).reusable, true);
  assert.equal(parse('GET', [`HTTP/1.0 200 OK\r\n${ok}`]).reusable, false);
  // Bytes nobody asked for after the response.
  const extra = parse('GET', [`HTTP/1.1 200 OK\r\n${ok}HTTP/1.1 200 OK\r\n`]);
  assert.deepEqual([extra.ended, extra.reusable], [true, false]);
  // Transfer-Encoding beside Content-Length: chunked wins, the connection closes after.
  const both = parse('GET', [
    'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  ]);
  assert.deepEqual([both.body, both.ended, both.reusable], ['ok', true, false]);
});

test("the backend's Keep-Alive timeout hint is read", () => {
  const parsed = parse('GET', ['HTTP/1.1 200 OK\r\nKeep-Alive: max=100, timeout=5\r\nContent-Length: 0\r\n\r\n']);
  assert.equal(parsed.keepAliveHintMs, 5000);
  assert.equal(parse('GET', ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']).keepAliveHintMs, -1);
});

test('equal repeated Content-Lengths are one; different ones are refused', () => {
  const same = parse('GET', ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok']);
  assert.deepEqual([same.error, same.body], [null, 'ok']);
  const differ = parse('GET', ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!']);
  assert.match(String(differ.error), /Content-Length/);
  assert.equal(differ.status, 0, 'no head reaches the client');
});

test('malformed responses are errors, not guesses', () => {
  const cases: Record<string, string> = {
    'not HTTP': 'SSH-2.0-OpenSSH_9.2\r\n\r\n',
    'HTTP/2 status line': 'HTTP/2 200 OK\r\n\r\n',
    'letters in the status': 'HTTP/1.1 2x0 OK\r\n\r\n',
    'no space after the status': 'HTTP/1.1 200OK\r\n\r\n',
    'header without colon': 'HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok',
    'space before the colon': 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok',
    'folded header': 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length: 2\r\n\r\nok',
    'negative length': 'HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok',
    'chunk size not hex': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
    'chunk size too big': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n',
    'chunk data overrun': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n',
    'bare LF after a chunk size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n',
  };
  for (const [name, response] of Object.entries(cases)) {
    const parsed = parse('GET', [response]);
    assert.notEqual(parsed.error, null, name);
    assert.equal(parsed.ended, false, name);
    assert.equal(parsed.reusable, false, name);
  }
});

test('a head larger than the limit is refused, whole or in pieces', () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\nContent-Length: 0\r\n\r\n`;
  assert.match(String(parse('GET', [big]).error), /too large/);
  assert.match(String(parse('GET', [big.slice(0, 1100), big.slice(1100)]).error), /too large/);
  assert.match(String(parse('GET', [big.slice(0, 1100)]).error), /too large/);
});

test('a connection that ends early says where', () => {
  assert.match(String(parse('GET', [], true).error), /before any response/);
  assert.match(String(parse('GET', ['HTTP/1.1 200 OK\r\nContent-Le'], true).error), /mid-response/);
  const cut = parse('GET', ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'], true);
  assert.deepEqual([cut.body, cut.ended], ['half', false]);
  assert.match(String(cut.error), /mid-response/);
});

test('header values keep their bytes; only spaces and tabs around them go', () => {
  const parsed = parse('GET', [
    Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nX-Name: \t caf'),
      Buffer.from([0xe9, 0xa0]),
      Buffer.from(' \r\nContent-Length: 0\r\n\r\n'),
    ]),
  ]);
  assert.deepEqual(parsed.headers.slice(0, 2), ['X-Name', 'caf\u00e9\u00a0']);
});
