// The built-in router's HTTPS listener: a certificate per hostname (exact or
// wildcard) picked by SNI, TLS 1.2+ and HTTP/1.1 only, X-Forwarded-Proto
// https to the app, certificates swapped under live traffic without a failed
// request, ACME http-01 answers, the redirect to HTTPS and HSTS.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import tls from 'node:tls';
import { type BuiltinRouter, startBuiltinRouter } from '../../src/router/builtin/index.ts';
import { startNginxRouter } from '../../src/router/nginx/index.ts';
import type { Router } from '../../src/router/types.ts';
import { httpsGet, httpsLoop, type Issued, issue, makeRootCa, removeCa, type TestCa } from '../helpers/test-certs.ts';
import { NGINX_SKIP, request, settle, startBackend } from './router-helpers.ts';

function handshake(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** A PUT to nginx's control socket (the Lua module's endpoints). */
function controlPut(socketPath: string, urlPath: string, body: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'PUT', path: urlPath, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.end(body);
  });
}

/** An nginx router with an HTTPS listener, stopped and its folder removed after the test. */
async function nginxRouter(t: TestContext, liveBackends = true) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-nginx-tls-'));
  const router = await startNginxRouter({
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    domain: 'example.test',
    dir,
    workers: 1,
    liveBackends,
  });
  t.after(async () => {
    await router.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return Object.assign(router, { dir });
}

/** The redirect to HTTPS and HSTS, on a router with an HTTPS listener and a certificate for shop.example.test. */
async function redirectAndHsts(
  t: TestContext,
  router: Router & Required<Pick<Router, 'setChallenge'>>,
  ca: TestCa,
): Promise<void> {
  const port = router.tlsAddress?.port as number;
  const backend = await startBackend(t, 'web-2', (_req, res) => {
    res.setHeader('strict-transport-security', 'max-age=5');
    res.end('ok');
  });
  const own = await startBackend(t, 'web-3', (req, res) => res.end(`app saw ${req.url}`));
  router.setRoute('shop', {
    hostnames: ['shop.example.test'],
    backends: [backend.backend],
    forceHttps: true,
    hsts: true,
  });
  router.setRoute('plain', { hostnames: ['plain.example.test'], backends: [own.backend], hsts: true });
  router.setChallenge('tok-9', 'tok-9.thumbprint');
  const redirected = await request(router, { host: 'Shop.Example.Test:8080', path: '/cart?x=1', method: 'POST' });
  assert.equal(redirected.status, 308);
  assert.equal(redirected.headers.location, `https://shop.example.test:${port}/cart?x=1`);
  assert.equal(redirected.headers['strict-transport-security'], undefined);
  assert.match(String(redirected.headers['x-request-id']), /^[\w-]+$/);
  const challenge = await request(router, { host: 'shop.example.test', path: '/.well-known/acme-challenge/tok-9' });
  assert.equal(challenge.status, 200);
  assert.equal(challenge.body.toString(), 'tok-9.thumbprint');
  // A token the router does not know goes to the app (its own ACME client), not redirected.
  router.setRoute('shop', { hostnames: ['shop.example.test'], backends: [own.backend], forceHttps: true, hsts: true });
  const appToken = await request(router, { host: 'shop.example.test', path: '/.well-known/acme-challenge/other' });
  assert.equal(appToken.status, 200);
  assert.equal(appToken.body.toString(), 'app saw /.well-known/acme-challenge/other');
  // An app without --force-https is served over plain HTTP, without HSTS.
  const plain = await request(router, { host: 'plain.example.test', path: '/x' });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['strict-transport-security'], undefined);

  router.setRoute('shop', {
    hostnames: ['shop.example.test'],
    backends: [backend.backend],
    forceHttps: true,
    hsts: true,
  });
  await settle(router);
  const secure = await httpsGet(port, 'shop.example.test', ca.cert);
  assert.equal(secure.body, 'ok');
  assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000', "replacing the app's own");
  assert.match(String(secure.headers['x-request-id']), /^[\w-]+$/);

  router.setRoute('shop', { hostnames: ['shop.example.test'], backends: [backend.backend] });
  assert.equal((await request(router, { host: 'shop.example.test' })).status, 200);
  const noHsts = await httpsGet(port, 'shop.example.test', ca.cert);
  assert.equal(noHsts.headers['strict-transport-security'], 'max-age=5', "the app's own header passes untouched");
}

describe('the built-in router over HTTPS', () => {
  let ca: TestCa;
  let exact: Issued;
  let wildcard: Issued;
  let renewed: Issued;
  before(async () => {
    ca = await makeRootCa();
    exact = await issue(ca, { names: ['shop.example.test'] });
    wildcard = await issue(ca, { names: ['*.apps.example.test'] });
    renewed = await issue(ca, { names: ['shop.example.test'] });
  });
  after(() => removeCa(ca));

  async function routerWithApps(t: import('node:test').TestContext): Promise<BuiltinRouter> {
    const backend = await startBackend(t, 'web-1');
    const router = await startBuiltinRouter({ host: '127.0.0.1', port: 0, tlsPort: 0, domain: 'example.test' });
    t.after(() => router.close());
    router.setRoute('shop', { hostnames: ['shop.example.test', 'a.apps.example.test'], backends: [backend.backend] });
    router.setCertificates([
      { hostnames: ['shop.example.test'], cert: exact.cert, key: exact.key },
      { hostnames: ['*.apps.example.test'], cert: wildcard.cert, key: wildcard.key },
    ]);
    return router;
  }

  test('SNI picks the exact or the wildcard certificate; the app is told https and the HTTPS port', async (t) => {
    const router = await routerWithApps(t);
    const port = router.tlsAddress?.port as number;
    assert.ok(port > 0 && port !== router.address.port);

    const shop = await httpsGet(port, 'shop.example.test', ca.cert);
    assert.equal(shop.status, 200);
    assert.equal(
      shop.peer.fingerprint256,
      new (await import('node:crypto')).X509Certificate(exact.cert).fingerprint256,
    );
    const seen = JSON.parse(shop.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-port'], String(port));
    assert.match(seen.headers.forwarded ?? '', /proto=https$/);

    const viaWildcard = await httpsGet(port, 'a.apps.example.test', ca.cert);
    assert.equal(viaWildcard.status, 200);
    assert.match(String(viaWildcard.peer.subjectaltname), /\*\.apps\.example\.test/);

    // The same router over plain HTTP still says http.
    const plain = await request(router, { host: 'shop.example.test' });
    assert.equal(
      (JSON.parse(plain.body.toString()) as { headers: Record<string, string> }).headers['x-forwarded-proto'],
      'http',
    );
  });

  test('no certificate for the name, no SNI, a wildcard two labels up, TLS 1.1: the handshake fails', async (t) => {
    const router = await routerWithApps(t);
    const port = router.tlsAddress?.port as number;
    await assert.rejects(httpsGet(port, 'other.example.test', ca.cert));
    await assert.rejects(httpsGet(port, 'x.a.apps.example.test', ca.cert));
    await assert.rejects(httpsGet(port, 'apps.example.test', ca.cert));
    await assert.rejects(handshake(port, { ca: ca.cert })); // no servername at all (an IP address)
    await assert.rejects(
      handshake(port, { ca: ca.cert, servername: 'shop.example.test', minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }),
    );
    const modern = await handshake(port, {
      ca: ca.cert,
      servername: 'shop.example.test',
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    assert.equal(modern.alpnProtocol, 'http/1.1');
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(modern.getProtocol() ?? ''));
    modern.destroy();
    const tls12 = await handshake(port, { ca: ca.cert, servername: 'shop.example.test', maxVersion: 'TLSv1.2' });
    assert.match(tls12.getCipher().name, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    tls12.destroy();
    // Broken handshakes leave the listener serving.
    assert.equal((await httpsGet(port, 'shop.example.test', ca.cert)).status, 200);
  });

  test('a certificate swapped under a request loop: no request fails, new handshakes get the new one', async (t) => {
    const router = await routerWithApps(t);
    const port = router.tlsAddress?.port as number;
    const { failures, done, fingerprints } = await httpsLoop(port, 'shop.example.test', ca.cert, async (live) => {
      // At least 20 swaps, and on until the loop has made its requests (a busy machine makes them slowly).
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 20 || (live.done <= 40 && Date.now() < deadline); i++) {
        await new Promise((resolve) => setTimeout(resolve, 15));
        const next = i % 2 === 0 ? renewed : exact;
        router.setCertificates([
          { hostnames: ['shop.example.test'], cert: next.cert, key: next.key },
          { hostnames: ['*.apps.example.test'], cert: wildcard.cert, key: wildcard.key },
        ]);
      }
    });
    assert.equal(failures, 0);
    assert.ok(done > 40, `only ${done} requests`);
    assert.equal(fingerprints.size, 2, 'both certificates were served');
  });

  test('a certificate node cannot load is refused and the previous set keeps serving', async (t) => {
    const router = await routerWithApps(t);
    assert.throws(() =>
      router.setCertificates([{ hostnames: ['shop.example.test'], cert: exact.cert, key: wildcard.key }]),
    );
    assert.equal((await httpsGet(router.tlsAddress?.port as number, 'shop.example.test', ca.cert)).status, 200);
  });

  test('ACME http-01 tokens are answered on HTTP for any hostname; unknown tokens go to the app', async (t) => {
    const router = await routerWithApps(t);
    router.setChallenge('tok-1', 'tok-1.thumbprint');
    const ours = await request(router, { host: 'nothing.example.test', path: '/.well-known/acme-challenge/tok-1' });
    assert.equal(ours.status, 200);
    assert.equal(ours.body.toString(), 'tok-1.thumbprint');
    const theirs = await request(router, { host: 'shop.example.test', path: '/.well-known/acme-challenge/tok-2' });
    assert.equal(theirs.status, 200);
    assert.equal((JSON.parse(theirs.body.toString()) as { url: string }).url, '/.well-known/acme-challenge/tok-2');
    router.setChallenge('tok-1', null);
    const gone = await request(router, { host: 'nothing.example.test', path: '/.well-known/acme-challenge/tok-1' });
    assert.equal(gone.status, 404);
  });

  test('ACME tls-alpn-01: acme-tls/1 handshakes get the challenge certificate over TLS 1.3 only, then are closed', async (t) => {
    const router = await routerWithApps(t);
    const port = router.tlsAddress?.port as number;
    const challenge = await issue(ca, { names: ['shop.example.test'] });
    const { X509Certificate } = await import('node:crypto');
    const [appPrint, challengePrint] = [exact, challenge].map((c) => new X509Certificate(c.cert).fingerprint256);
    const acmeTls = { servername: 'shop.example.test', ALPNProtocols: ['acme-tls/1'], ca: ca.cert };
    router.setAlpnChallenge('Shop.Example.Test', { cert: challenge.cert, key: challenge.key });
    const answered = await handshake(port, acmeTls);
    assert.equal(answered.alpnProtocol, 'acme-tls/1');
    assert.equal(answered.getPeerX509Certificate()?.fingerprint256, challengePrint);
    await new Promise((resolve) => answered.on('close', resolve).resume()); // closed by the router: no HTTP on it
    // TLS 1.2 picks the certificate before ALPN: no challenge answer, rather than the app's certificate for it.
    await assert.rejects(handshake(port, { ...acmeTls, maxVersion: 'TLSv1.2' }));
    // Other names and ordinary clients are not affected.
    await assert.rejects(handshake(port, { ...acmeTls, servername: 'a.apps.example.test' }));
    const app = await httpsGet(port, 'shop.example.test', ca.cert);
    assert.equal(app.status, 200);
    assert.equal(app.peer.fingerprint256, appPrint);
    router.setAlpnChallenge('shop.example.test', null);
    await assert.rejects(handshake(port, acmeTls));
  });

  test('force HTTPS redirects plain HTTP (not ACME challenges); HSTS goes on HTTPS answers only', async (t) => {
    await redirectAndHsts(t, await routerWithApps(t), ca);
  });

  test('with a router worker process, both processes answer challenges, redirect and serve HTTPS', async (t) => {
    const backend = await startBackend(t, 'web-1');
    const router = await startBuiltinRouter({
      host: '127.0.0.1',
      port: 0,
      tlsPort: 0,
      domain: 'example.test',
      workers: 2,
    });
    t.after(() => router.close());
    await router.workersListening();
    router.setRoute('shop', { hostnames: ['shop.example.test'], backends: [backend.backend], forceHttps: true });
    router.setChallenge('tok-w', 'tok-w.thumbprint');
    for (let i = 0; i < 16; i++) {
      const challenge = await request(router, { host: 'shop.example.test', path: '/.well-known/acme-challenge/tok-w' });
      assert.equal(challenge.body.toString(), 'tok-w.thumbprint');
      const redirect = await request(router, { host: 'shop.example.test', path: '/' });
      assert.equal(redirect.headers.location, `https://shop.example.test:${router.tlsAddress?.port}/`);
    }
    // HTTPS is served by both processes: every new connection's handshake finds the certificates,
    // through a swap (settled: the worker applied it too).
    router.setCertificates([{ hostnames: ['shop.example.test'], cert: exact.cert, key: exact.key }]);
    await router.settled();
    const port = router.tlsAddress?.port as number;
    const { failures, done, fingerprints } = await httpsLoop(
      port,
      'shop.example.test',
      ca.cert,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        router.setCertificates([{ hostnames: ['shop.example.test'], cert: renewed.cert, key: renewed.key }]);
        await router.settled();
        await new Promise((resolve) => setTimeout(resolve, 200));
      },
      4,
      false,
    );
    assert.equal(failures, 0);
    assert.ok(done > 10);
    assert.equal(fingerprints.size, 2);
    for (let i = 0; i < 16; i++) {
      const reply = await httpsGet(port, 'shop.example.test', ca.cert);
      assert.equal(reply.peer.fingerprint256, new X509Certificate(renewed.cert).fingerprint256);
    }
  });

  test('the nginx driver: force HTTPS redirects plain HTTP (not ACME challenges); HSTS on HTTPS answers only', {
    skip: NGINX_SKIP,
  }, async (t) => {
    const router = await nginxRouter(t);
    router.setCertificates([{ hostnames: ['shop.example.test'], cert: exact.cert, key: exact.key }]);
    await redirectAndHsts(t, router, ca);
  });

  for (const live of [false, true])
    test(`the nginx driver: certificates by SNI, https to the app, ${
      live ? 'pushed live through Lua (no reload), under keep-alive traffic too' : 'swapped by a graceful reload'
    }`, { skip: NGINX_SKIP }, async (t) => {
      const backend = await startBackend(t, 'web-1');
      const router = await nginxRouter(t, live);
      const dir = router.dir;
      router.setRoute('shop', { hostnames: ['shop.example.test', 'a.apps.example.test'], backends: [backend.backend] });
      router.setCertificates([{ hostnames: ['shop.example.test'], cert: exact.cert, key: exact.key }]);
      await router.settled();
      const port = router.tlsAddress?.port as number;
      const shop = await httpsGet(port, 'shop.example.test', ca.cert);
      assert.equal(shop.status, 200);
      assert.equal(shop.peer.fingerprint256, new X509Certificate(exact.cert).fingerprint256);
      const seen = JSON.parse(shop.body) as { headers: Record<string, string> };
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers['x-forwarded-port'], String(port));
      await assert.rejects(httpsGet(port, 'a.apps.example.test', ca.cert), 'no certificate for that name yet');
      await assert.rejects(handshake(port, { ca: ca.cert }), 'no SNI: no certificate');
      const plain = await request(router, { host: 'shop.example.test' });
      assert.equal(
        (JSON.parse(plain.body.toString()) as { headers: Record<string, string> }).headers['x-forwarded-proto'],
        'http',
      );
      const keyFiles = () => fs.readdirSync(path.join(dir, 'certs')).filter((f) => f.endsWith('.key'));
      if (live) assert.equal(fs.existsSync(path.join(dir, 'certs')), false, 'pushed: no certificate files');
      else assert.equal(fs.statSync(path.join(dir, 'certs', keyFiles()[0] as string)).mode & 0o777, 0o600);
      const config = fs.readFileSync(path.join(dir, 'nginx.conf'), 'utf8');

      // Swaps under a request loop (with a reload, over new connections only: a reload closes idle
      // keep-alive ones); no handshake or request fails. Each swap is timed until a new handshake gets it.
      const swapMs: number[] = [];
      const { failures, done, fingerprints } = await httpsLoop(
        port,
        'shop.example.test',
        ca.cert,
        async () => {
          for (const next of [renewed, exact, renewed, exact, renewed, exact, renewed]) {
            const started = performance.now();
            router.setCertificates([
              { hostnames: ['shop.example.test'], cert: next.cert, key: next.key },
              { hostnames: ['*.apps.example.test', 'a.apps.example.test'], cert: wildcard.cert, key: wildcard.key },
            ]);
            const wanted = new X509Certificate(next.cert).fingerprint256;
            while ((await httpsGet(port, 'shop.example.test', ca.cert)).peer.fingerprint256 !== wanted);
            swapMs.push(performance.now() - started);
            await router.settled();
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        },
        4,
        live,
      );
      const sorted = swapMs.slice().sort((a, b) => a - b);
      t.diagnostic(
        `nginx ${live ? 'Lua push' : 'reload'}: swap to a new handshake in ${sorted.map((ms) => ms.toFixed(1)).join(', ')} ms (median ${sorted[3]?.toFixed(1)})`,
      );
      assert.equal(failures, 0);
      assert.ok(done > 10, `only ${done} requests`);
      assert.equal(fingerprints.size, 2);
      assert.equal((await httpsGet(port, 'a.apps.example.test', ca.cert)).status, 200);
      if (live) {
        assert.equal(fs.readFileSync(path.join(dir, 'nginx.conf'), 'utf8'), config, 'no new configuration');
        // A malformed push is refused whole: the certificates served do not change.
        for (const body of ['shop.example.test 99\nshort', 'bad name! 3\na\0b', 'shop.example.test 5\nnonul'])
          assert.equal((await controlPut(path.join(dir, 'control', 'control.sock'), '/certs', body)).status, 400);
        const still = await httpsGet(port, 'shop.example.test', ca.cert);
        assert.equal(still.peer.fingerprint256, new X509Certificate(renewed.cert).fingerprint256);
      } else assert.equal(keyFiles().length, 2, 'the files of certificates no longer served are removed');
    });
});
