// Bad input gets a clear error with a fitting HTTP status and CLI exit code,
// and nothing is written outside the build directory. The server runs in the
// test's process: the API answers through inject() (no socket, where one adds
// nothing), the CLI and the cut-off uploads use its real port.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type RawEntry, rawTarball } from '../helpers/hostile-tarball.ts';
import { type InProcessServer, startInProcess } from '../helpers/in-process.ts';
import { eventually } from '../helpers/runtime-helpers.ts';
import { TOKEN } from '../helpers/slipway.ts';
import { delay } from '../helpers/wait.ts';

describe('bad input', () => {
  let slipway: InProcessServer;
  before(async () => {
    slipway = await startInProcess({ maxUpload: '256kb' });
    assert.equal((await slipway.cli(['apps:create', 'target'])).code, 0);
  });
  after(async () => {
    await slipway?.stop();
  });

  async function upload(app: string, body: Buffer) {
    const res = await slipway.api.inject({
      method: 'POST',
      url: `/api/apps/${app}/deployments`,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' },
      payload: body,
    });
    return { status: res.statusCode, json: res.json() as { error?: { code: string; message: string } } };
  }

  test('invalid app names are refused (422, exit 6) and nothing is created', async () => {
    for (const name of ['Bad_Name', '1abc', 'a', 'trailing-', 'double--dash', 'x'.repeat(31), '../etc']) {
      const res = await slipway.request('POST', '/api/apps', { name });
      assert.equal(res.status, 422, name);
      assert.equal(res.json.error.code, 'app.invalid_name');
    }
    const cli = await slipway.cli(['apps:create', 'Bad_Name']);
    assert.equal(cli.code, 6);
    assert.match(cli.stderr, /^error: invalid app name "Bad_Name"/);
    const { json: apps } = await slipway.request('GET', '/api/apps');
    assert.deepEqual(
      apps.map((a: { name: string }) => a.name),
      ['target'],
    );
  });

  test('a duplicate app is a conflict (409, exit 5)', async () => {
    assert.equal((await slipway.request('POST', '/api/apps', { name: 'target' })).status, 409);
    assert.equal((await slipway.cli(['apps:create', 'target'])).code, 5);
  });

  test('unknown apps are 404 (exit 4)', async () => {
    const res = await slipway.request('GET', '/api/apps/ghost');
    assert.equal(res.status, 404);
    assert.deepEqual(res.json, { error: { code: 'app.not_found', message: 'app "ghost" not found' } });
    const cli = await slipway.cli(['apps:info', '-a', 'ghost']);
    assert.equal(cli.code, 4);
    assert.equal(cli.stderr, 'error: app "ghost" not found');
    assert.equal((await upload('ghost', rawTarball([{ path: 'Procfile', body: 'web: x' }]))).status, 404);
  });

  test('a missing or wrong token is 401 (exit 3); /healthz needs none', async () => {
    const missing = await slipway.request('GET', '/api/apps', undefined, null);
    assert.equal(missing.status, 401);
    assert.equal(missing.json.error.code, 'auth.missing_token');
    const wrong = await slipway.request('GET', '/api/apps', undefined, 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'auth.invalid_token');
    const cli = await slipway.cli(['apps'], { token: 'not-the-token' });
    assert.equal(cli.code, 3);
    assert.equal(cli.stderr, 'error: invalid API token');
    assert.equal((await slipway.request('GET', '/healthz', undefined, null)).status, 200);
  });

  test('a client that keeps failing auth gets 429 with Retry-After; a valid token still works', async () => {
    let last = { statusCode: 0, headers: {} as Record<string, unknown> };
    for (let i = 0; i < 25 && last.statusCode !== 429; i++) {
      last = await slipway.api.inject({ method: 'GET', url: '/api/apps', headers: { authorization: 'Bearer guess' } });
    }
    assert.equal(last.statusCode, 429);
    assert.match(String(last.headers['retry-after'] ?? ''), /^\d+$/);
    const cli = await slipway.cli(['apps'], { token: 'still-guessing' });
    assert.equal(cli.code, 3);
    assert.match(cli.stderr, /too many failed authentications: try again in \d+s/);
    assert.equal((await slipway.request('GET', '/api/apps')).status, 200, 'the real token is never locked out');
  });

  test('malformed requests are 400 with a JSON error', async () => {
    assert.equal((await slipway.request('POST', '/api/apps', { nom: 'x' })).status, 400);
    const env = await slipway.request('PATCH', '/api/apps/target/env', { 'BAD-KEY': 'x' });
    assert.equal(env.status, 422);
    assert.equal(env.json.error.code, 'config.invalid_key');
    const noBody = await slipway.api.inject({
      method: 'POST',
      url: '/api/apps/target/deployments',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.ok(noBody.statusCode >= 400 && noBody.statusCode < 500);
    assert.ok((noBody.json() as { error: { code: string } }).error.code);
  });

  const sentinel = path.join(os.tmpdir(), `slipway-escape-${crypto.randomBytes(4).toString('hex')}`);
  const hostile: [string, RawEntry[], string][] = [
    ['a ../ path', [{ path: `../../../../../../../..${sentinel}`, body: 'x' }], 'source.unsafe_path'],
    ['a nested ../ path', [{ path: 'a/../../escape.txt', body: 'x' }], 'source.unsafe_path'],
    ['an absolute path', [{ path: sentinel, body: 'x' }], 'source.unsafe_path'],
    [
      'a symlink out of the tree',
      [{ path: 'link', type: 'SymbolicLink', linkpath: '../../../../..' }],
      'source.unsafe_link',
    ],
    [
      'an absolute symlink then a write through it',
      [
        { path: 'link', type: 'SymbolicLink', linkpath: path.dirname(sentinel) },
        { path: `link/${path.basename(sentinel)}`, body: 'x' },
      ],
      'source.unsafe_link',
    ],
    [
      'a hard link out of the tree',
      [{ path: 'hard', type: 'Link', linkpath: '../../../etc/passwd' }],
      'source.unsafe_link',
    ],
    ['a device file', [{ path: 'dev', type: 'CharacterDevice' }], 'source.unsupported_entry'],
  ];
  for (const [what, entries, code] of hostile) {
    test(`an archive with ${what} is refused (422 ${code}) and writes nothing`, async () => {
      const homeBefore = fs.readdirSync(slipway.home).sort();
      const res = await upload('target', rawTarball([{ path: 'Procfile', body: 'web: sleep 1' }, ...entries]));
      assert.equal(res.status, 422, JSON.stringify(res.json));
      assert.equal(res.json.error?.code, code);
      assert.ok(!fs.existsSync(sentinel), 'nothing written outside');
      assert.deepEqual(fs.readdirSync(slipway.home).sort(), homeBefore);
      assert.deepEqual(fs.readdirSync(path.join(slipway.home, 'builds')), [], 'no upload left behind');
    });
  }

  test('garbage instead of a tarball is refused (422 source.invalid_archive)', async () => {
    const res = await upload('target', crypto.randomBytes(2048));
    assert.equal(res.status, 422);
    assert.equal(res.json.error?.code, 'source.invalid_archive');
  });

  test('an upload over the size cap is refused (413, exit 6)', async () => {
    const big = gzipSync(crypto.randomBytes(400 * 1024), { level: 0 });
    const res = await upload('target', big);
    assert.equal(res.status, 413);
    assert.equal(res.json.error?.code, 'source.too_large');
    const file = path.join(slipway.home, 'big.tar.gz');
    fs.writeFileSync(file, big);
    const cli = await slipway.cli(['deploy', file, '-a', 'target']);
    assert.equal(cli.code, 6);
    assert.match(cli.stderr, /larger than the limit/);
    const { json: list } = await slipway.request('GET', '/api/apps/target/deployments');
    assert.deepEqual(list, [], 'no deployment was created by any refused upload');
  });

  // A client that dies mid-upload: small declared sizes are read into memory, big ones streamed to disk.
  for (const declared of [2_000, 200_000]) {
    test(`an upload cut off after 100 of ${declared} bytes creates nothing and leaves no file`, async () => {
      const url = new URL(slipway.apiUrl);
      const socket = net.connect(Number(url.port), url.hostname);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        'POST /api/apps/target/deployments HTTP/1.1\r\n' +
          `Host: ${url.host}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/gzip\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      socket.write(gzipSync(crypto.randomBytes(200)).subarray(0, 100));
      await delay(200); // the server is reading the body now
      socket.destroy();
      const builds = path.join(slipway.home, 'builds');
      const left = await eventually(
        async () => fs.readdirSync(builds),
        (files) => files.length === 0,
        3000,
      );
      assert.deepEqual(left, [], 'no upload left behind');
      const { json: list } = await slipway.request('GET', '/api/apps/target/deployments');
      assert.deepEqual(list, []);
      const health = await fetch(`${slipway.apiUrl}/healthz`); // through its socket, as a client would
      assert.equal(health.status, 200, 'the server carries on');
    });
  }
});
