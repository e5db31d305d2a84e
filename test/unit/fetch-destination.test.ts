// URL fetches reach only allowed destinations: loopback, private,
// link-local and reserved addresses are refused by default, in every
// numeric spelling, by name (resolved first), and at every redirect hop; a
// refused fetch sends nothing. A failure to connect to an allowed address says
// what happened.
// Servers here listen on loopback only; the "public" policy of the redirect
// test is a stand-in that allows 127.0.0.1 and not 127.0.0.2.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSlipwayError } from '../../src/core/errors.ts';
import { anyDestination, publicOnly } from '../../src/source/check-destination.ts';
import { fetchGitCommit } from '../../src/source/fetch-git.ts';
import {
  DEFAULT_FETCH_TIMEOUTS,
  downloadTarball,
  type FetchLimits,
  parseSourceUrl,
} from '../../src/source/fetch-url.ts';
import { deadPort } from '../helpers/local-http.ts';

const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-fetch-dest-'));
const limits = (destinations = publicOnly, extra: Partial<FetchLimits> = {}): FetchLimits => ({
  maxBytes: 1024 * 1024,
  ...DEFAULT_FETCH_TIMEOUTS,
  destinations,
  ...extra,
});

interface Served {
  readonly port: number;
  readonly hits: string[];
  close(): Promise<void>;
}

/** A loopback HTTP server: `/redirect?to=URL` redirects, anything else is a small body. */
async function serve(host: string): Promise<Served> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
    if (to) res.writeHead(302, { location: to }).end();
    else res.end('not really a tarball');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isSlipwayError(err), `a SlipwayError, not ${(err as Error).stack}`);
    return { code: err.code, message: err.message };
  }
  throw new Error('expected the fetch to be refused');
}

describe('fetch destinations', () => {
  let a: Served;
  let b: Served;
  before(async () => {
    a = await serve('127.0.0.1');
    b = await serve('127.0.0.2');
  });
  after(async () => {
    await a.close();
    await b.close();
    fs.rmSync(spool, { recursive: true, force: true });
  });

  test('public unicast only: loopback, private, link-local, shared, reserved and multicast are refused', () => {
    const refused = [
      '127.0.0.1',
      '127.255.255.254',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '192.0.0.8',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      'not an address',
    ];
    for (const address of refused) assert.equal(publicOnly(address), false, address);
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) {
      assert.equal(publicOnly(address), true, address);
    }
  });

  test('numeric spellings of loopback are read as loopback, and refused before any connection', async () => {
    for (const spelling of ['0x7f000001', '2130706433', '0177.0.0.1', '127.1', '0x7f.1', '[::1]', '[::ffff:7f00:1]']) {
      const url = parseSourceUrl(`http://${spelling}:${a.port}/app.tar.gz`);
      const { code } = await refusal(downloadTarball(url, spool, limits()));
      assert.equal(code, 'source.denied_destination', spelling);
    }
    // By name: localhost resolves to loopback, and is refused for that.
    const byName = await refusal(
      downloadTarball(parseSourceUrl(`http://localhost:${a.port}/app.tar.gz`), spool, limits()),
    );
    assert.equal(byName.code, 'source.denied_destination');
    assert.match(byName.message, /SLIPWAY_ALLOW_PRIVATE_FETCH/);
    assert.deepEqual(a.hits, [], 'nothing reached the server');
  });

  test('every redirect hop is checked again', async () => {
    const onlyA = (address: string) => address === '127.0.0.1';
    const hop = `http://127.0.0.2:${b.port}/app.tar.gz`;
    const start = parseSourceUrl(`http://127.0.0.1:${a.port}/redirect?to=${encodeURIComponent(hop)}`);
    const { code } = await refusal(downloadTarball(start, spool, limits(onlyA)));
    assert.equal(code, 'source.denied_destination');
    assert.equal(a.hits.length, 1);
    assert.deepEqual(b.hits, [], 'the redirect target was never contacted');

    // A redirect to another scheme is refused as a URL.
    const toFile = parseSourceUrl(`http://127.0.0.1:${a.port}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`);
    assert.equal((await refusal(downloadTarball(toFile, spool, limits(onlyA)))).code, 'source.invalid_url');

    // Allowed, the same chain is followed to its end.
    const file = await downloadTarball(start, spool, limits(anyDestination));
    assert.equal(fs.readFileSync(file, 'utf8'), 'not really a tarball');
    assert.equal(b.hits.length, 1);
  });

  test('a refused connection and one that never answers each say so', async () => {
    const closedPort = await deadPort();
    // "Filtered": accepts TCP (the backlog does) but never answers.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    const fast = limits(anyDestination, { connectTimeoutMs: 300 });
    const failure = (port: number) =>
      refusal(downloadTarball(parseSourceUrl(`http://127.0.0.1:${port}/app.tar.gz`), spool, fast));
    try {
      assert.deepEqual(await failure(closedPort), {
        code: 'source.fetch_failed',
        message: `could not fetch http://127.0.0.1:${closedPort}/app.tar.gz: connection refused`,
      });
      assert.deepEqual(await failure(silentPort), {
        code: 'source.fetch_failed',
        message: `could not fetch http://127.0.0.1:${silentPort}/app.tar.gz: no answer from 127.0.0.1:${silentPort} within 0.3 s`,
      });
    } finally {
      silent.close();
    }
  });

  test("a git fetch that fails gives git's reason", async () => {
    const closedPort = await deadPort();
    const url = parseSourceUrl(`http://127.0.0.1:${closedPort}/acme/shop.git`);
    const { code, message } = await refusal(fetchGitCommit(url, 'main', spool, limits(anyDestination)));
    assert.equal(code, 'source.fetch_failed');
    assert.match(
      message,
      new RegExp(
        `^could not fetch ${url.href}: git fetch of main failed: Failed to connect to 127\\.0\\.0\\.1 port ${closedPort}`,
      ),
    );
  });

  test('git fetches are refused before git runs', async () => {
    const url = parseSourceUrl(`http://127.0.0.1:${a.port}/acme/shop.git`);
    const { code } = await refusal(fetchGitCommit(url, 'main', spool, limits()));
    assert.equal(code, 'source.denied_destination');
    assert.deepEqual(
      a.hits.filter((h) => h.includes('shop')),
      [],
    );
  });
});
