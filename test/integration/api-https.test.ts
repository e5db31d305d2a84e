// The API and dashboard over HTTPS (docs/https.md): with a certificate of a
// private CA given by files, the real CLI logs in with NODE_EXTRA_CA_CERTS and
// refuses the server without it (saying what to do), the session cookie is
// Secure, and a wrong certificate stops the start with a clear error; with
// `--api-domain`, the API's certificate comes from an ACME CA (pebble, its
// http-01 challenge answered by the router), is renewed, and is served at once
// after a restart.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { deadPort } from '../helpers/local-http.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { BIN, baseEnv, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';
import { httpsGet, type Issued, issue, makeRootCa, removeCa, type TestCa } from '../helpers/test-certs.ts';
import { waitForValue } from '../helpers/wait.ts';

describe('the API and dashboard over HTTPS with --api-tls-cert/--api-tls-key', () => {
  let ca: TestCa;
  let leaf: Issued;
  let slipway: Slipway;
  let port = 0;

  before(async () => {
    ca = await makeRootCa();
    leaf = await issue(ca, { names: ['127.0.0.1'] });
    // A private CA's chain ends at its root (docs/https.md, as for certs:add).
    const chain = path.join(ca.dir, 'api-chain.pem');
    fs.writeFileSync(chain, leaf.cert + ca.cert);
    slipway = await startSlipway({ args: ['--api-tls-cert', chain, '--api-tls-key', leaf.keyFile] });
    port = Number(new URL(slipway.apiUrl).port);
  });
  after(async () => {
    await slipway?.stop();
    if (ca) removeCa(ca);
  });

  test('the server says https, and the real CLI logs in and works with NODE_EXTRA_CA_CERTS', async () => {
    assert.match(slipway.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const env = { NODE_EXTRA_CA_CERTS: ca.certFile, SLIPWAY_URL: '', SLIPWAY_TOKEN: '' };
    const login = await slipway.cli(['login', '--url', slipway.apiUrl, '--token', TOKEN], { spawn: true, env });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Logged in to https:\/\/127\.0\.0\.1:\d+/);
    const created = await slipway.cli(['apps:create', 'shop'], { spawn: true, env });
    assert.equal(created.code, 0, created.stderr);
    const listed = await slipway.cli(['apps'], { spawn: true, env });
    assert.match(listed.stdout, /shop/);
  });

  test("certs --api lists the API's own certificate: source, status, names, expiry, issuer", async () => {
    const env = { NODE_EXTRA_CA_CERTS: ca.certFile };
    const listed = await slipway.cli(['certs', '--api'], { spawn: true, env });
    assert.equal(listed.code, 0, listed.stderr);
    const expires = new Date(new X509Certificate(leaf.cert).validTo).toISOString().slice(0, 10);
    assert.match(listed.stdout, /^The API and dashboard speak HTTPS with your certificate \(--api-tls-cert/);
    assert.match(listed.stdout, new RegExp(`\\napi +own +ok +127\\.0\\.0\\.1 +${expires} +CN=Slipway Test Root`));
    const json = JSON.parse((await slipway.cli(['certs', '--api', '--json'], { spawn: true, env })).stdout);
    assert.equal(json.tls, 'own');
    assert.equal(json.certificate.fingerprint, new X509Certificate(leaf.cert).fingerprint256);
    assert.equal(json.certificate.not_after, new Date(new X509Certificate(leaf.cert).validTo).toISOString());
  });

  test('without the CA the CLI refuses the server and says how to trust it; plain HTTP gets nowhere', async () => {
    const login = await slipway.cli(['login', '--url', slipway.apiUrl, '--token', TOKEN], { spawn: true });
    assert.notEqual(login.code, 0);
    assert.match(login.stderr, /certificate is not trusted \(\w+\).*NODE_EXTRA_CA_CERTS/);
    assert.doesNotMatch(login.stderr, /\n\s+at /); // no stack trace
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  });

  test('the dashboard over HTTPS sets a Secure session cookie', async () => {
    const reply = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/sign-in',
        ca: ca.cert,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') });
      });
      req.end(`token=${TOKEN}&next=%2F`);
    });
    assert.equal(reply.status, 303);
    assert.match(reply.cookie, /slipway_session=\w+.*; Secure/);
  });
});

describe('a wrong --api-tls-cert/--api-tls-key stops the start with a clear error', () => {
  let ca: TestCa;
  let home = '';
  let good: Issued;
  let other: Issued;
  let expired: Issued;

  before(async () => {
    ca = await makeRootCa();
    good = await issue(ca, { names: ['127.0.0.1'] });
    other = await issue(ca, { names: ['127.0.0.1'] });
    expired = await issue(ca, { names: ['127.0.0.1'], notBeforeDays: -10, notAfterDays: -1 });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-api-tls-'));
  });
  after(() => {
    if (ca) removeCa(ca);
    fs.rmSync(home, { recursive: true, force: true });
  });

  const start = async (args: string[]) => {
    const lines: string[] = [];
    const result = await runProcess([BIN, 'server', '--home', home, '--port', '0', '--router-port', '0', ...args], {
      env: baseEnv({ SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_RUNTIME: 'process' }),
      onLine: (_s, line) => lines.push(line),
      timeoutMs: 30_000,
    });
    return { code: result.code, out: lines.join('\n') };
  };

  for (const [name, args, message] of [
    ['a certificate without its key', () => ['--api-tls-cert', good.certFile], /give both/],
    [
      'a key of another certificate',
      () => ['--api-tls-cert', good.certFile, '--api-tls-key', other.keyFile],
      /the API's certificate \(--api-tls-cert .*\): the private key does not belong/,
    ],
    [
      'an expired certificate',
      () => ['--api-tls-cert', expired.certFile, '--api-tls-key', expired.keyFile],
      /the certificate expired on/,
    ],
    [
      "a private CA's certificate without the root",
      () => ['--api-tls-cert', good.certFile, '--api-tls-key', good.keyFile],
      /the chain stops at "CN=Slipway Test Root", which is not a trusted root/,
    ],
    [
      'a missing file',
      () => ['--api-tls-cert', '/nonexistent/cert.pem', '--api-tls-key', good.keyFile],
      /cannot read --api-tls-cert \/nonexistent\/cert\.pem: ENOENT/,
    ],
    [
      'a key that is not PEM',
      () => ['--api-tls-cert', good.certFile, '--api-tls-key', good.certFile],
      /not a PEM private key/,
    ],
    [
      'files and --api-domain at once',
      () => ['--api-tls-cert', good.certFile, '--api-tls-key', good.keyFile, '--api-domain', 'api.example.com'],
      /not both/,
    ],
  ] as const) {
    test(name, async () => {
      const { code, out } = await start(args());
      assert.notEqual(code, 0);
      assert.match(out, message);
      assert.doesNotMatch(out, /\n\s+at |internal error/);
    });
  }
});

describe('the API certificate from ACME for --api-domain (pebble)', () => {
  const API_HOST = 'api.slipway.test';
  let pebble: Pebble;
  let slipway: Slipway;
  let root = '';
  let routerPort = 0;
  let port = 0;

  const served = () => httpsGet(port, API_HOST, root, { path: '/healthz' });
  const start = (home?: string, renewBefore = '3590s') =>
    startSlipway({
      ...(home === undefined ? {} : { home }),
      args: ['--router-port', String(routerPort), '--domain', 'slipway.test', '--api-domain', API_HOST],
      env: {
        SLIPWAY_ROUTER_HOST: '127.0.0.1',
        SLIPWAY_ACME_DIRECTORY: pebble.directoryUrl,
        NODE_EXTRA_CA_CERTS: pebble.tlsCaFile,
        SLIPWAY_CERTS_CHECK_INTERVAL: '1s',
        SLIPWAY_CERTS_RETRY: '2s',
        // Certificates of an hour, renewed when under 59m50s are left: a renewal about every 10 s.
        SLIPWAY_CERTS_RENEW_BEFORE: renewBefore,
      },
    });

  before(async () => {
    routerPort = await deadPort();
    pebble = await startPebble({ httpPort: routerPort, validitySeconds: 3600 });
    slipway = await start();
    port = Number(new URL(slipway.apiUrl).port);
    root = await pebble.root();
  });
  after(async () => {
    await slipway?.stop();
    await pebble?.stop();
  });

  test('obtained through the router and served by the API, then renewed', async () => {
    assert.match(slipway.apiUrl, new RegExp(`^https://${API_HOST.replace(/\./g, '\\.')}:\\d+$`));
    const first = await waitForValue(
      async () => {
        try {
          return await served();
        } catch {
          return undefined; // no certificate yet: the handshake fails
        }
      },
      'the API served over HTTPS with an ACME certificate',
      60_000,
      250,
    );
    assert.equal(first.status, 200);
    assert.deepEqual(JSON.parse(first.body), { status: 'ok' });
    assert.match(String(first.peer.issuer.CN), /Pebble Intermediate/);
    assert.match(first.peer.subjectaltname ?? '', new RegExp(`DNS:${API_HOST.replace(/\./g, '\\.')}`));
    // What `certs --api` reads (the CLI would need NODE_EXTRA_CA_CERTS and a DNS name for it).
    const listed = await new Promise<{ tls: string; certificate: Record<string, unknown> }>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port,
        servername: API_HOST,
        path: '/api/server/certificate',
        ca: root,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.end();
    });
    assert.equal(listed.tls, 'acme');
    assert.equal(listed.certificate.id, `acme-${API_HOST}`);
    assert.match(String(listed.certificate.issuer), /Pebble Intermediate/);
    assert.deepEqual(listed.certificate.served_for, [API_HOST]);
    const dir = path.join(slipway.home, 'certs', '_api', `acme-${API_HOST}`);
    for (const file of ['cert.pem', 'key.pem', 'meta.json'])
      assert.equal(fs.statSync(path.join(dir, file)).mode & 0o777, 0o600);
    // Renewed: a new certificate, installed without a restart.
    await waitForValue(
      async () => {
        const again = await served();
        return again.peer.fingerprint256 !== first.peer.fingerprint256 ? again : undefined;
      },
      'a renewed API certificate',
      60_000,
      500,
    );
  });

  test('after a restart, the stored certificate is served at once', async () => {
    await slipway.stop({ keepHome: true });
    const stored = fs.readFileSync(path.join(slipway.home, 'certs', '_api', `acme-${API_HOST}`, 'cert.pem'), 'utf8');
    slipway = await start(slipway.home, '1m'); // not renewed now: the stored one is what it serves
    port = Number(new URL(slipway.apiUrl).port);
    const reply = await served();
    assert.equal(reply.status, 200);
    assert.equal(reply.peer.fingerprint256, new (await import('node:crypto')).X509Certificate(stored).fingerprint256);
  });
});
