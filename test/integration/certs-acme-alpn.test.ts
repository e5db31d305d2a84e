// ACME tls-alpn-01 (SLIPWAY_ACME_CHALLENGE=tls-alpn-01, docs/https.md): pebble
// validates on the built-in router's HTTPS port only (its http-01 port is one
// nothing listens on), the certificate is obtained and served; a handshake
// asking for acme-tls/1 with no challenge pending gets nothing; without an
// HTTPS port the order fails with the reason, and the app serves on.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import type { CertJson, CertsJson } from '../../src/core/api-json.ts';
import { deadPort } from '../helpers/local-http.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { deployEchoApp, httpsGet } from '../helpers/test-certs.ts';
import { waitForValue } from '../helpers/wait.ts';

const APP = 'shop';
const HOST = `${APP}.slipway.test`;

/** certs:auto on, then the app's ACME certificate once `ready` says so. */
async function autoCert(slipway: Slipway, ready: (c: CertJson) => boolean, what: string, ms: number) {
  assert.equal((await slipway.cli(['certs:auto', 'on', '-a', APP])).code, 0);
  return waitForValue(
    async () => {
      const { certificates } = (await slipway.api('GET', `/api/apps/${APP}/certs`)).json as CertsJson;
      const found = certificates.find((c) => c.id === `acme-${HOST}`);
      return found && ready(found) ? found : undefined;
    },
    what,
    ms,
    200,
  );
}

describe('ACME tls-alpn-01 challenges answered by the built-in router', () => {
  let pebble: Pebble;
  let slipway: Slipway;
  let tlsPort = 0;

  before(async () => {
    tlsPort = await deadPort();
    // http-01 validations would go to a port nothing listens on: only tls-alpn-01 can succeed.
    pebble = await startPebble({ httpPort: await deadPort(), tlsPort });
    slipway = await startSlipway({
      args: ['--router-tls-port', String(tlsPort), '--router-workers', '2', '--domain', 'slipway.test'],
      env: {
        SLIPWAY_ROUTER_HOST: '127.0.0.1',
        SLIPWAY_ACME_DIRECTORY: pebble.directoryUrl,
        SLIPWAY_ACME_CHALLENGE: 'tls-alpn-01',
        NODE_EXTRA_CA_CERTS: pebble.tlsCaFile,
        SLIPWAY_CERTS_CHECK_INTERVAL: '1s',
        SLIPWAY_CERTS_RETRY: '2s',
      },
    });
    await deployEchoApp(slipway, APP);
  });
  after(async () => {
    await slipway?.stop();
    await pebble?.stop();
  });

  test('certs:auto on: the certificate is obtained through the HTTPS port and served', async () => {
    const got = await autoCert(
      slipway,
      (c) => c.not_after !== null,
      'a certificate from a tls-alpn-01 challenge',
      60_000,
    );
    assert.match(got.issuer ?? '', /Pebble Intermediate/);
    assert.equal(got.last_error, null);
    const root = await pebble.root();
    const served = await waitForValue(
      () => httpsGet(tlsPort, HOST, root).catch(() => undefined),
      `${HOST} over HTTPS`,
      5_000,
      100,
    );
    assert.equal(served.status, 200);
    assert.equal(JSON.parse(served.body).proto, 'https');
  });

  test('acme-tls/1 with no challenge pending: no certificate, the handshake fails; http/1.1 beside it is served', async () => {
    const handshake = (ALPNProtocols: string[]) =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: HOST, ALPNProtocols }, () =>
          resolve(socket),
        );
        socket.on('error', reject);
      });
    await assert.rejects(handshake(['acme-tls/1']));
    const root = await pebble.root();
    const both = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: tlsPort, servername: HOST, ALPNProtocols: ['acme-tls/1', 'http/1.1'], ca: root },
        () => resolve(socket),
      );
      socket.on('error', reject);
    });
    assert.equal(both.alpnProtocol, 'http/1.1');
    assert.equal(both.authorized, true);
    both.destroy();
  });
});

describe('tls-alpn-01 without an HTTPS port', () => {
  let slipway: Slipway;

  before(async () => {
    slipway = await startSlipway({
      args: ['--domain', 'slipway.test'],
      env: {
        SLIPWAY_ACME_DIRECTORY: `http://127.0.0.1:${await deadPort()}/dir`,
        SLIPWAY_ACME_CHALLENGE: 'tls-alpn-01',
        SLIPWAY_CERTS_CHECK_INTERVAL: '1s',
      },
    });
    await deployEchoApp(slipway, APP);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('the order fails with the reason, before asking the CA; the app serves on', async () => {
    const failing = await autoCert(slipway, (c) => c.status === 'failing', 'a failed order', 20_000);
    assert.match(failing.last_error ?? '', /tls-alpn-01 challenges need the built-in router with an HTTPS port/);
    const listed = await slipway.cli(['certs', '-a', APP]);
    assert.match(listed.stdout, /last attempt failed: tls-alpn-01 challenges need/);
    assert.equal((await routerGet(slipway.routerPort, HOST)).status, 200);
  });

  test('an unknown challenge type stops the start with a clear error', async () => {
    await assert.rejects(
      startSlipway({ env: { SLIPWAY_ACME_CHALLENGE: 'dns-01' } }),
      /SLIPWAY_ACME_CHALLENGE.*(http-01|tls-alpn-01)/,
    );
  });
});
