// A flood of idle connections (slowloris) on one listener never takes the
// other down: the router and the API each accept up to their own budget,
// close the excess at once and say so in the server log, and close idle
// connections that never send their headers. Budgets here are small (1000
// router, 100 API connections, 3 s for headers) so that the flood stays
// bounded: 1,500 sockets on loopback.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FIXTURES, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'flooded';

interface Flood {
  /** Sockets the server has closed so far. */
  closed(): number;
  readonly total: number;
  end(): void;
  /**
   * Sends one byte on every connection still open. A connection the server
   * never accepted (its accept queue overflowed under load: the client saw the
   * handshake, the server dropped it) is half-open and idle forever; the byte
   * makes the server's kernel answer it with a reset. One the server does hold
   * just gets an incomplete request, still under the header deadline.
   */
  poke(): void;
}

/** `count` connections that never send a byte. */
async function idleConnections(port: number, count: number): Promise<Flood> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port }, () => resolve());
          socket.resume(); // read, so a close by the server is seen
          socket.on('error', () => resolve());
          socket.on('close', () => {
            closed++;
            resolve();
          });
          sockets.push(socket);
        }),
    ),
  );
  return {
    closed: () => closed,
    total: count,
    end: () => {
      for (const s of sockets) s.destroy();
    },
    poke: () => {
      for (const s of sockets) if (!s.destroyed) s.write('\r\n');
    },
  };
}

/** Every connection closed: 3 s of header time plus the checking interval, then once more for half-open ones. */
async function allClosed(flood: Flood, what: string): Promise<void> {
  const done = () => flood.closed() === flood.total;
  await waitFor(done, what, 15_000, 100).catch(() => flood.poke());
  await waitFor(done, what, 15_000, 100);
}

describe('connection floods', () => {
  let slipway: Slipway;
  const healthz = async () => (await slipway.api('GET', '/healthz', undefined, null)).status;
  const serves = async () => (await routerGet(slipway.routerPort, `${APP}.localhost`)).status === 200;

  before(async () => {
    slipway = await startSlipway({
      env: {
        SLIPWAY_ROUTER_MAX_CONNECTIONS: '1000',
        SLIPWAY_API_MAX_CONNECTIONS: '100',
        SLIPWAY_HEADERS_TIMEOUT: '3s',
      },
    });
    assert.equal((await slipway.cli(['deploy', `${FIXTURES}/web-worker-hook`, '-a', APP, '--create'])).code, 0);
  });
  after(() => slipway?.stop());

  test("idle connections over the router's budget are shed and logged; the API answers throughout", async () => {
    const flood = await idleConnections(slipway.routerPort, 1500);
    try {
      await waitFor(() => flood.closed() >= 500, 'the connections over the budget closed', 10_000, 50);
      for (let i = 0; i < 5; i++) assert.equal(await healthz(), 200);
      assert.ok(
        slipway.serverOutput.some((l) => /router: \d+ connection\(s\) over the limit of 1000 closed at once/.test(l)),
        'the shedding is logged',
      );
      // The idle ones within the budget are closed once their time for headers is up; then the router serves again.
      await allClosed(flood, 'idle connections closed by the header deadline');
      assert.ok(await serves());
    } finally {
      flood.end();
    }
  });

  test('a flood of the API leaves the router serving', async () => {
    const flood = await idleConnections(Number(new URL(slipway.apiUrl).port), 300);
    try {
      await waitFor(() => flood.closed() >= 200, 'the API connections over its budget closed', 10_000, 50);
      for (let i = 0; i < 5; i++) assert.ok(await serves(), 'the app still answers through the router');
      assert.ok(slipway.serverOutput.some((l) => /api: \d+ connection\(s\) over the limit of 100/.test(l)));
      await allClosed(flood, 'idle API connections closed by the header deadline');
      assert.equal(await healthz(), 200);
    } finally {
      flood.end();
    }
  });
});
