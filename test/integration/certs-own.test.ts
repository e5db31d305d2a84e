// Own certificates through the real CLI and API: every validation error a
// user can meet, the app served over HTTPS (curl --cacert), a certificate
// replaced under a request loop with no failed request, the files' modes,
// removal; then the redirect to HTTPS and HSTS (apps:update); `certs --api`
// with the API on plain HTTP.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import {
  deployEchoApp,
  httpsGet,
  httpsLoop,
  type Issued,
  issue,
  makeRootCa,
  removeCa,
  type TestCa,
} from '../helpers/test-certs.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'shop';
const HOST = `${APP}.localhost`;

async function curl(args: string[]): Promise<{ code: number | null; out: string }> {
  const lines: string[] = [];
  const result = await runProcess(['curl', '--silent', '--show-error', '--max-time', '10', ...args], {
    env: { PATH: '/usr/bin:/bin' },
    onLine: (_s, line) => lines.push(line),
    timeoutMs: 20_000,
  });
  return { code: result.code, out: lines.join('\n') };
}

describe('own certificates (certs:add, certs, certs:remove) and HTTPS settings', () => {
  let slipway: Slipway;
  let ca: TestCa;
  let good: Issued;
  let other: Issued;
  let tlsPort = 0;
  const write = (name: string, text: string) => {
    const file = path.join(ca.dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  before(async () => {
    ca = await makeRootCa();
    // A private CA's chain ends with its root (no public root issued it).
    const withRoot = (issued: Issued, name: string) => ({
      ...issued,
      cert: issued.cert + ca.cert,
      certFile: write(name, issued.cert + ca.cert),
    });
    good = withRoot(await issue(ca, { names: [HOST, 'www.shop.test'] }), 'good.pem');
    other = withRoot(await issue(ca, { names: [HOST] }), 'other.pem');
    slipway = await startSlipway({ args: ['--router-tls-port', '0'], env: { SLIPWAY_CERTS_CHECK_INTERVAL: '1s' } });
    tlsPort = slipway.routerTlsPort as number;
    assert.ok(tlsPort > 0, 'the server printed its HTTPS port');
    await deployEchoApp(slipway, APP);
  });
  after(async () => {
    await slipway?.stop();
    if (ca) removeCa(ca);
  });

  test('every invalid certificate is refused with a clear error, and nothing is stored', async () => {
    const intermediate = await issue(ca, { names: [], isCa: true });
    const viaIntermediate = await issue(intermediate, { names: [HOST] });
    const cases: [string, string[], RegExp][] = [
      ['not PEM', [write('x.der', 'garbage'), good.keyFile], /not PEM/],
      ['not a key', [good.certFile, write('bad.key', 'nope')], /not a PEM private key/],
      ['another key', [good.certFile, other.keyFile], /does not belong to the certificate/],
      ['another name', [(await issue(ca, { names: ['elsewhere.test'] })).certFile], /covers none of shop\.localhost/],
      ['expired', [(await issue(ca, { names: [HOST], notBeforeDays: -30, notAfterDays: -1 })).certFile], /expired on/],
      [
        'not yet valid',
        [(await issue(ca, { names: [HOST], notBeforeDays: 2, notAfterDays: 30 })).certFile],
        /not valid before/,
      ],
      ['incomplete chain', [viaIntermediate.certFile], /not a trusted root: append the intermediate/],
      [
        'wrong order',
        [write('order.pem', viaIntermediate.cert + ca.cert + intermediate.cert), viaIntermediate.keyFile],
        /certificate 2 of the file did not issue certificate 1/,
      ],
      ['unknown file', [path.join(ca.dir, 'missing.pem'), good.keyFile], /cannot read the certificate file/],
    ];
    for (const [name, files, message] of cases) {
      // A missing key means: the key that goes with that certificate.
      const args = files.length === 1 ? [files[0] as string, (files[0] as string).replace(/\.pem$/, '.key')] : files;
      const result = await slipway.cli(['certs:add', ...args, '-a', APP]);
      assert.notEqual(result.code, 0, name);
      assert.match(result.stderr, message, name);
      assert.doesNotMatch(result.stderr, /at .+\.ts:\d+|internal error/i, name);
    }
    const spawned = await slipway.cli(['certs:add', write('y.der', 'garbage'), good.keyFile, '-a', APP], {
      spawn: true,
    });
    assert.match(spawned.stderr, /^error: the certificate file is not PEM/);
    const notOurs = await slipway.cli(['certs:add', good.certFile, good.keyFile, '--domain', 'other.test', '-a', APP]);
    assert.match(notOurs.stderr, /other\.test is not a hostname of this app/);
    const api = await slipway.api('POST', `/api/apps/${APP}/certs`, { cert: 'x', key: 'y' });
    assert.equal(api.status, 422);
    assert.equal(api.json.error.code, 'cert.not_pem');
    assert.deepEqual((await slipway.api('GET', `/api/apps/${APP}/certs`)).json, { auto: false, certificates: [] });
  });

  test('an added certificate serves the app over HTTPS (curl --cacert), with X-Forwarded-Proto https', async () => {
    const added = await slipway.cli(['certs:add', good.certFile, good.keyFile, '-a', APP]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Added own-[0-9a-f]{12} to shop: served for shop\.localhost, expires \d{4}-/);
    const caFile = write('root.pem', ca.cert);
    const served = await curl([
      '--cacert',
      caFile,
      '--resolve',
      `${HOST}:${tlsPort}:127.0.0.1`,
      `https://${HOST}:${tlsPort}/`,
    ]);
    assert.equal(served.code, 0, served.out);
    assert.deepEqual(JSON.parse(served.out), { proto: 'https', port: String(tlsPort), host: `${HOST}:${tlsPort}` });
    const untrusted = await curl(['--resolve', `${HOST}:${tlsPort}:127.0.0.1`, `https://${HOST}:${tlsPort}/`]);
    assert.notEqual(untrusted.code, 0, 'without the CA curl refuses it');

    const listed = await slipway.cli(['certs', '-a', APP]);
    assert.match(listed.stdout, /ACME certificates \(certs:auto\): off/);
    assert.match(listed.stdout, /own-[0-9a-f]{12} +own +ok +shop\.localhost +\d{4}-\d\d-\d\d +CN=Slipway Test Root/);
    const json = (await slipway.api('GET', `/api/apps/${APP}/certs`)).json;
    assert.deepEqual(json.certificates[0].names, [HOST, 'www.shop.test']);

    // Secrets: folders 0700, files 0600.
    const dir = path.join(slipway.home, 'certs', APP, json.certificates[0].id);
    for (const folder of [path.join(slipway.home, 'certs'), path.dirname(dir), dir])
      assert.equal(fs.statSync(folder).mode & 0o777, 0o700, folder);
    for (const file of ['cert.pem', 'key.pem', 'meta.json'])
      assert.equal(fs.statSync(path.join(dir, file)).mode & 0o777, 0o600, file);
  });

  test('a certificate replaced under an HTTPS request loop: no request fails', async () => {
    const before = (await slipway.api('GET', `/api/apps/${APP}/certs`)).json.certificates[0].id;
    const {
      failures,
      done,
      fingerprints: seen,
    } = await httpsLoop(tlsPort, HOST, ca.cert, async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const swapped = await slipway.cli(['certs:add', other.certFile, other.keyFile, '-a', APP]);
      assert.equal(swapped.code, 0, swapped.stderr);
      assert.equal((await slipway.cli(['certs:remove', before, '-a', APP])).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    assert.equal(failures, 0);
    assert.ok(done > 20, `only ${done} requests`);
    assert.equal(seen.size, 2, 'the old and the new certificate were both served');
    assert.equal(
      (await httpsGet(tlsPort, HOST, ca.cert)).peer.fingerprint256,
      new X509Certificate(other.cert).fingerprint256,
    );
  });

  test('certs:remove: an unknown ID is not found; the last certificate gone, the handshake fails', async () => {
    const unknown = await slipway.cli(['certs:remove', 'own-000000000000', '-a', APP]);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /shop has no certificate own-000000000000/);
    const traversal = await slipway.api('DELETE', `/api/apps/${APP}/certs/..`);
    assert.equal(traversal.status, 404);
    assert.ok(fs.existsSync(path.join(slipway.home, 'certs', APP)));
    const [only] = (await slipway.api('GET', `/api/apps/${APP}/certs`)).json.certificates;
    assert.equal((await slipway.cli(['certs:remove', only.id, '-a', APP])).code, 0);
    await assert.rejects(httpsGet(tlsPort, HOST, ca.cert));
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200, 'plain HTTP serves on');
  });

  test('apps:update --force-https redirects plain HTTP; --hsts adds Strict-Transport-Security; both undo', async () => {
    assert.equal((await slipway.cli(['certs:add', good.certFile, good.keyFile, '-a', APP])).code, 0);
    const on = await slipway.cli(['apps:update', '--force-https', '--hsts', '-a', APP]);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /plain HTTP is redirected to HTTPS/);
    const redirected = await curl([
      '--include',
      '--resolve',
      `${HOST}:${slipway.routerPort}:127.0.0.1`,
      `http://${HOST}:${slipway.routerPort}/a?b=1`,
    ]);
    assert.match(redirected.out, /^HTTP\/1\.1 308/);
    assert.match(redirected.out, new RegExp(`^location: https://${HOST}:${tlsPort}/a\\?b=1\r?$`, 'im'));
    const caFile = write('root2.pem', ca.cert);
    const followed = await curl([
      '--location',
      '--include',
      '--cacert',
      caFile,
      '--resolve',
      `${HOST}:${tlsPort}:127.0.0.1`,
      '--resolve',
      `${HOST}:${slipway.routerPort}:127.0.0.1`,
      `http://${HOST}:${slipway.routerPort}/`,
    ]);
    assert.equal(followed.code, 0, followed.out);
    assert.match(followed.out, /^strict-transport-security: max-age=31536000/im);
    assert.match(followed.out, /"proto":"https"/);
    assert.match((await slipway.cli(['apps:info', '-a', APP])).stdout, /^HTTPS: +plain HTTP redirected, HSTS on$/m);
    const info = (await slipway.api('GET', `/api/apps/${APP}`)).json;
    assert.equal(info.force_https, true);
    assert.equal(info.hsts, true);

    const off = await slipway.cli(['apps:update', '--no-force-https', '--no-hsts', '-a', APP]);
    assert.equal(off.code, 0, off.stderr);
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200);
    const plain = await curl([
      '--include',
      '--cacert',
      caFile,
      '--resolve',
      `${HOST}:${tlsPort}:127.0.0.1`,
      `https://${HOST}:${tlsPort}/`,
    ]);
    assert.doesNotMatch(plain.out, /strict-transport-security/i);
  });

  test('an own certificate in its last 30 days is listed expiring and warned about in the server log', async () => {
    const soon = await issue(ca, { names: [HOST], notAfterDays: 10 });
    const added = await slipway.cli(['certs:add', write('soon.pem', soon.cert + ca.cert), soon.keyFile, '-a', APP]);
    assert.equal(added.code, 0, added.stderr);
    const id = /Added (own-[0-9a-f]{12})/.exec(added.stdout)?.[1] as string;
    assert.match((await slipway.cli(['certs', '-a', APP])).stdout, new RegExp(`${id} +own +expiring`));
    await waitFor(
      () => slipway.serverOutput.some((l) => l.includes(id) && /an own certificate expires in (9|10) days/.test(l)),
      'the expiry warning',
      5_000,
    );
    assert.equal((await slipway.cli(['certs:remove', id, '-a', APP])).code, 0);
  });

  test("certs --api on a server whose API speaks plain HTTP: no certificate, none of the app's listed", async () => {
    assert.equal((await slipway.cli(['certs', '-a', APP])).code, 0);
    const listed = await slipway.cli(['certs', '--api'], { spawn: true });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^The API and dashboard speak plain HTTP: no certificate \(HTTPS: .*--api-tls-cert/);
    assert.doesNotMatch(listed.stdout, /own-|acme-|shop/);
    const json = await slipway.cli(['certs', '--api', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), { tls: 'off', certificate: null });
    // Like every API route but the public ones: the token is needed.
    assert.equal((await slipway.api('GET', '/api/server/certificate', undefined, null)).status, 401);
  });

  test('apps:destroy removes its certificates: files gone, no longer served', async () => {
    assert.equal((await httpsGet(tlsPort, HOST, ca.cert)).status, 200);
    assert.equal((await slipway.cli(['apps:destroy', '-a', APP, '--confirm', APP])).code, 0);
    assert.ok(!fs.existsSync(path.join(slipway.home, 'certs', APP)));
    await assert.rejects(httpsGet(tlsPort, HOST, ca.cert));
  });
});
