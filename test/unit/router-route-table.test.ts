// Host normalisation, table building and round-robin of the built-in router.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRouteTable, hostKey, pickBackend, pickOtherBackend } from '../../src/router/builtin/route-table.ts';
import { BackendPool } from '../../src/router/builtin/upstream/backend-pool.ts';
import type { AppRoute } from '../../src/router/types.ts';

test('hostKey strips the port, one trailing dot and case', () => {
  assert.equal(hostKey('MyApp.LocalHost:8080'), 'myapp.localhost');
  assert.equal(hostKey('myapp.localhost.'), 'myapp.localhost');
  assert.equal(hostKey('myapp.localhost.:80'), 'myapp.localhost');
  assert.equal(hostKey('[::1]:8080'), '[::1]');
  assert.equal(hostKey('[::1]'), '[::1]');
  assert.equal(hostKey(''), '');
  assert.equal(hostKey(undefined), '');
});

function table(routes: Record<string, AppRoute>) {
  const pool = new BackendPool({ maxSockets: 1, idleSocketMs: 1000, upstreamTimeoutMs: 1000, connectTimeoutMs: 1000 });
  return buildRouteTable(
    new Map(Object.entries(routes)),
    (_app, route) => route.backends.map((b) => pool.acquire(b)),
    new Map(),
  );
}

const web = (id: string, port: number) => ({ id, host: '127.0.0.1', port });

test('every hostname of an app points at the same entry; the latest app wins a conflict', () => {
  const { table: routes, conflicts } = table({
    a: { hostnames: ['A.localhost', 'www.example.com.'], backends: [web('a1', 1)] },
    b: { hostnames: ['b.localhost', 'www.example.com'], backends: [] },
  });
  assert.equal(routes.get('a.localhost')?.app, 'a');
  assert.equal(routes.get('www.example.com')?.app, 'b');
  assert.deepEqual(conflicts, [{ hostname: 'www.example.com', app: 'b', previousApp: 'a' }]);
  assert.equal(routes.get('b.localhost')?.backends.length, 0);
});

test('pickBackend round-robins; pickOtherBackend skips the failed one', () => {
  const { table: routes } = table({ a: { hostnames: ['a'], backends: [web('x', 1), web('y', 2), web('z', 3)] } });
  const entry = routes.get('a');
  assert.ok(entry);
  const ids = Array.from({ length: 6 }, () => pickBackend(entry)?.id);
  assert.deepEqual(ids, ['x', 'y', 'z', 'x', 'y', 'z']);
  const x = entry.backends[0];
  assert.ok(x);
  for (let i = 0; i < 4; i++) assert.notEqual(pickOtherBackend(entry, x)?.id, 'x');

  const { table: single } = table({ a: { hostnames: ['a'], backends: [web('x', 1)] } });
  const only = single.get('a');
  assert.ok(only?.backends[0]);
  assert.equal(pickOtherBackend(only, only.backends[0]), undefined);
  const { table: none } = table({ a: { hostnames: ['a'], backends: [] } });
  assert.equal(pickBackend(none.get('a') as NonNullable<ReturnType<typeof none.get>>), undefined);
});

test('pickBackend passes over a backend marked unreachable while another is not, and takes it back after', () => {
  const { table: routes } = table({ a: { hostnames: ['a'], backends: [web('x', 1), web('y', 2), web('z', 3)] } });
  const entry = routes.get('a');
  assert.ok(entry);
  const [x, y, z] = entry.backends;
  assert.ok(x && y && z);
  y.unreachableUntil = performance.now() + 60_000;
  assert.deepEqual(
    Array.from({ length: 6 }, () => pickBackend(entry)?.id),
    ['x', 'z', 'z', 'x', 'z', 'z'],
  );
  // Every one marked: round-robin as usual rather than no answer at all.
  x.unreachableUntil = z.unreachableUntil = y.unreachableUntil;
  assert.deepEqual(
    Array.from({ length: 3 }, () => pickBackend(entry)?.id),
    ['x', 'y', 'z'],
  );
  // Once its time is up, a backend is picked again (here the only one) and its mark cleared.
  y.unreachableUntil = performance.now() - 1;
  assert.deepEqual(
    Array.from({ length: 3 }, () => pickBackend(entry)?.id),
    ['y', 'y', 'y'],
  );
  assert.equal(y.unreachableUntil, 0);
  // A retry after y refused never goes back to y, even when only y is unmarked.
  assert.notEqual(pickOtherBackend(entry, y)?.id, 'y');
});
