// ACME certificates against a real CA on loopback (pebble, its http-01
// validations sent to the router): obtained for an app's hostname and a custom
// domain and served over HTTPS (curl --cacert pebble's root), renewed before
// expiry under an HTTPS request loop with no failed request, and a failed
// challenge reported (`slipway certs`) while the app serves and deploys on.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CertJson, CertsJson } from '../../src/core/api-json.ts';
import { runProcess } from '../../src/exec/index.ts';
import { deadPort } from '../helpers/local-http.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { deployEchoApp, httpsGet, httpsLoop } from '../helpers/test-certs.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';
import { NGINX_SKIP } from './router-helpers.ts';

const APP = 'shop';
const HOST = `${APP}.slipway.test`;
const CUSTOM = 'www.shop.test';
const BROKEN = 'broken.shop.test';

function acmeSuite(driver: 'builtin' | 'nginx', skip: string | false): void {
  describe(`ACME certificates (certs:auto) from pebble, ${driver} router`, { skip }, () => {
    let pebble: Pebble;
    let slipway: Slipway;
    let root = '';
    let rootFile = '';
    let tlsPort = 0;

    const certs = async (): Promise<CertsJson> => (await slipway.api('GET', `/api/apps/${APP}/certs`)).json;
    const cert = async (id: string): Promise<CertJson | undefined> =>
      (await certs()).certificates.find((c) => c.id === id);
    const obtained = (id: string) =>
      waitForValue(
        async () => {
          const found = await cert(id);
          return found?.not_after ? found : undefined;
        },
        `a certificate ${id}`,
        60_000,
        250,
      );
    const curl = async (host: string) => {
      const lines: string[] = [];
      const result = await runProcess(
        [
          'curl',
          '--silent',
          '--show-error',
          '--cacert',
          rootFile,
          '--resolve',
          `${host}:${tlsPort}:127.0.0.1`,
          `https://${host}:${tlsPort}/`,
        ],
        { env: { PATH: '/usr/bin:/bin' }, onLine: (_s, line) => lines.push(line), timeoutMs: 20_000 },
      );
      return { code: result.code, out: lines.join('\n') };
    };

    before(async () => {
      const routerPort = await deadPort();
      // Certificates of an hour, renewed when under 59m50s are left: a renewal about every 10 s.
      pebble = await startPebble({ httpPort: routerPort, validitySeconds: 3600 });
      await pebble.resolve(BROKEN, '127.0.0.3'); // nothing listens there: its challenge cannot succeed
      slipway = await startSlipway({
        args: [
          ...(driver === 'nginx' ? ['--router', 'nginx'] : []),
          ...['--router-port', String(routerPort), '--router-tls-port', '0', '--domain', 'slipway.test'],
        ],
        env: {
          SLIPWAY_ROUTER_HOST: '127.0.0.1',
          SLIPWAY_ACME_DIRECTORY: pebble.directoryUrl,
          NODE_EXTRA_CA_CERTS: pebble.tlsCaFile, // pebble's own HTTPS, as a staging CA behind a private root would need
          SLIPWAY_CERTS_CHECK_INTERVAL: '1s',
          SLIPWAY_CERTS_RETRY: '2s',
          SLIPWAY_CERTS_RENEW_BEFORE: '3590s',
        },
      });
      tlsPort = slipway.routerTlsPort as number;
      root = await pebble.root();
      rootFile = path.join(slipway.home, '..', `pebble-root-${process.pid}.pem`);
      fs.writeFileSync(rootFile, root);
      await deployEchoApp(slipway, APP);
      assert.equal((await slipway.cli(['domains:add', CUSTOM, '-a', APP])).code, 0);
    });
    after(async () => {
      await slipway?.stop();
      await pebble?.stop();
      if (rootFile) fs.rmSync(rootFile, { force: true });
    });

    test('certs:auto on: certificates for the app and its custom domain, served over HTTPS', async () => {
      const off = await slipway.cli(['certs', '-a', APP]);
      assert.match(off.stdout, /ACME certificates \(certs:auto\): off/);
      const on = await slipway.cli(['certs:auto', 'on', '-a', APP]);
      assert.equal(on.code, 0, on.stderr);
      for (const host of [HOST, CUSTOM]) {
        const got = await obtained(`acme-${host}`);
        assert.deepEqual(got.served_for, [host]);
        assert.match(got.issuer ?? '', /Pebble Intermediate/);
        // The listing reads the files; the router serves them once installed (nginx: after its reload).
        const served = await waitForValue(
          async () => {
            const tried = await curl(host);
            return tried.code === 0 ? tried : undefined;
          },
          `${host} served over HTTPS`,
          5_000,
          100,
        );
        assert.deepEqual(JSON.parse(served.out), { proto: 'https', port: String(tlsPort), host: `${host}:${tlsPort}` });
      }
      const listed = await slipway.cli(['certs', '-a', APP]);
      assert.match(listed.stdout, /ACME certificates \(certs:auto\): on/);
      assert.match(
        listed.stdout,
        new RegExp(
          `acme-${CUSTOM.replace(/\./g, '\\.')} +acme +(ok|expiring) +${CUSTOM.replace(/\./g, '\\.')} +\\d{4}-`,
        ),
      );
      // The account key and every certificate's files are the server's alone.
      assert.equal(fs.statSync(path.join(slipway.home, 'certs', 'acme', 'account.key')).mode & 0o777, 0o600);
      for (const file of ['cert.pem', 'key.pem', 'meta.json'])
        assert.equal(fs.statSync(path.join(slipway.home, 'certs', APP, `acme-${HOST}`, file)).mode & 0o777, 0o600);
    });

    test('a certificate near its expiry is renewed, under an HTTPS request loop with no failed request', async () => {
      const first = (await obtained(`acme-${HOST}`)).fingerprint;
      let renewed = false;
      const result = await httpsLoop(
        tlsPort,
        HOST,
        root,
        () =>
          waitFor(
            async () => {
              renewed = (await cert(`acme-${HOST}`))?.fingerprint !== first;
              return renewed;
            },
            'a renewal',
            40_000,
            200,
          ),
        2,
        // A graceful reload closes idle keep-alive connections (docs/router.md): nginx gets new ones only.
        driver === 'builtin',
      );
      assert.ok(renewed);
      assert.equal(result.failures, 0);
      // Served once installed (nginx: after its reload).
      await waitFor(
        async () => (await httpsGet(tlsPort, HOST, root)).peer.fingerprint256 !== first,
        'the renewed one served',
        5_000,
        100,
      );
    });

    test('a challenge that fails is reported, retried, and the app serves and deploys on', async () => {
      assert.equal((await slipway.cli(['domains:add', BROKEN, '-a', APP])).code, 0);
      const failing = await waitForValue(
        async () => {
          const found = await cert(`acme-${BROKEN}`);
          return found?.last_error ? found : undefined;
        },
        'the failed order reported',
        60_000,
        250,
      );
      assert.equal(failing.status, 'failing');
      assert.match(failing.last_error ?? '', /127\.0\.0\.3|connection refused|connect/i);
      assert.ok(failing.next_attempt_at !== null && new Date(failing.next_attempt_at) > new Date(Date.now() - 60_000));
      const listed = await slipway.cli(['certs', '-a', APP]);
      assert.match(listed.stdout, /acme-broken\.shop\.test: last attempt failed: .+\(next: /);

      assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200);
      assert.equal((await curl(HOST)).code, 0);
      const redeployed = await slipway.cli(['redeploy', '-a', APP]);
      assert.equal(redeployed.code, 0, redeployed.stderr);
      assert.equal((await curl(CUSTOM)).code, 0);

      const off = await slipway.cli(['certs:auto', 'off', '-a', APP]);
      assert.equal(off.code, 0, off.stderr);
      assert.equal((await certs()).auto, false);
      assert.equal((await curl(HOST)).code, 0, 'certificates obtained are served on');
    });
  });
}

acmeSuite('builtin', false);
// With nginx, each certificate change and each challenge is a graceful reload (docs/https.md).
acmeSuite('nginx', NGINX_SKIP);
