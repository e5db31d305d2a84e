// Server settings: flags win over SLIPWAY_* variables, which win over the
// documented defaults; bad values are clear errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings, parseDuration, parseSize } from '../../src/config/settings.ts';

test('defaults are the documented ones', () => {
  const s = loadSettings({}, {}, '/srv');
  assert.equal(s.home, '/srv/.slipway');
  assert.equal(s.host, '127.0.0.1');
  assert.equal(s.port, 5100);
  assert.equal(s.routerPort, 8080);
  assert.equal(s.domain, 'localhost');
  assert.equal(s.bootTimeoutMs, 60_000);
  assert.equal(s.hookTimeoutMs, 20 * 60_000);
  assert.equal(s.stopGraceMs, 30_000);
  assert.ok(Object.isFrozen(s));
});

test('flags win over environment variables', () => {
  const s = loadSettings(
    { port: '6000', bootTimeout: '5s' },
    { SLIPWAY_PORT: '7000', SLIPWAY_ROUTER_PORT: '9090', SLIPWAY_HOOK_TIMEOUT: '90s', SLIPWAY_TOKEN: 'abc' },
    '/srv',
  );
  assert.equal(s.port, 6000);
  assert.equal(s.routerPort, 9090);
  assert.equal(s.bootTimeoutMs, 5000);
  assert.equal(s.hookTimeoutMs, 90_000);
  assert.equal(s.initialToken, 'abc');
});

test('durations and sizes', () => {
  assert.equal(parseDuration('60'), 60_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('20m'), 1_200_000);
  assert.equal(parseSize('512kb'), 512 * 1024);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.throws(() => parseDuration('soon'), /invalid duration/);
});

test('invalid values name the setting and its variable', () => {
  assert.throws(
    () => loadSettings({}, { SLIPWAY_PORT: 'eighty' }, '/srv'),
    (err: Error & { code?: string }) => err.code === 'request.invalid' && /SLIPWAY_PORT/.test(err.message),
  );
  assert.throws(() => loadSettings({ bootTimeout: 'later' }, {}, '/srv'), /SLIPWAY_BOOT_TIMEOUT.*invalid duration/);
});

test('day-2 settings: restart backoff, build cap, and the chaos pause (off by default)', () => {
  const defaults = loadSettings({}, {}, '/srv');
  assert.equal(defaults.restartBackoffMs, 1000);
  assert.equal(defaults.maxConcurrentBuilds, 2);
  assert.equal(defaults.chaosPause, null);
  const set = loadSettings(
    {},
    { SLIPWAY_RESTART_BACKOFF: '200ms', SLIPWAY_MAX_BUILDS: '4', SLIPWAY_CHAOS_PAUSE: 'switch:3s' },
    '/srv',
  );
  assert.equal(set.restartBackoffMs, 200);
  assert.equal(set.maxConcurrentBuilds, 4);
  assert.deepEqual(set.chaosPause, { step: 'switch', ms: 3000 });
  assert.throws(
    () => loadSettings({}, { SLIPWAY_CHAOS_PAUSE: 'lunch:1s' }, '/srv'),
    /SLIPWAY_CHAOS_PAUSE.*STEP:DURATION/,
  );
  assert.throws(() => loadSettings({}, { SLIPWAY_MAX_BUILDS: '0' }, '/srv'), /SLIPWAY_MAX_BUILDS/);
});

test('the runtime is chosen automatically unless sandbox, process, docker or swarm is asked for', () => {
  assert.equal(loadSettings({}, {}, '/srv').runtime, 'auto');
  assert.equal(loadSettings({}, { SLIPWAY_RUNTIME: 'process' }, '/srv').runtime, 'process');
  assert.equal(loadSettings({ runtime: 'sandbox' }, { SLIPWAY_RUNTIME: 'process' }, '/srv').runtime, 'sandbox');
  assert.equal(loadSettings({ runtime: 'docker' }, {}, '/srv').runtime, 'docker');
  assert.equal(loadSettings({}, {}, '/srv').dockerSocket, '/var/run/docker.sock');
  assert.equal(loadSettings({}, { SLIPWAY_RUNTIME: 'swarm' }, '/srv').runtime, 'swarm');
  assert.throws(
    () => loadSettings({ runtime: 'kubernetes' }, {}, '/srv'),
    /invalid setting runtime \(SLIPWAY_RUNTIME\)/,
  );
});

test('router workers: one process per core, at most 4, by default; the flag wins over the variable', () => {
  assert.equal(loadSettings({}, {}, '/srv').routerWorkers, 1);
  assert.equal(loadSettings({}, { SLIPWAY_ROUTER_WORKERS: '3' }, '/srv').routerWorkers, 3);
  assert.equal(loadSettings({ routerWorkers: '1' }, { SLIPWAY_ROUTER_WORKERS: '3' }, '/srv').routerWorkers, 1);
  assert.throws(() => loadSettings({ routerWorkers: '0' }, {}, '/srv'), /routerWorkers \(SLIPWAY_ROUTER_WORKERS\)/);
});

test('the store is SQLite in the home unless SLIPWAY_DATABASE_URL names a PostgreSQL database', () => {
  assert.equal(loadSettings({}, {}, '/srv').databaseUrl, null);
  const url = 'postgres://slipway:secret@db.internal:5432/slipway';
  assert.equal(loadSettings({}, { SLIPWAY_DATABASE_URL: url }, '/srv').databaseUrl, url);
  for (const wrong of ['mysql://slipway:secret@db/slipway', '/srv/slipway.db', 'postgres://has space']) {
    assert.throws(
      () => loadSettings({}, { SLIPWAY_DATABASE_URL: wrong }, '/srv'),
      (err: Error) => {
        assert.match(err.message, /SLIPWAY_DATABASE_URL.*must be a postgres:\/\/user:password@host:port\/database URL/);
        assert.doesNotMatch(err.message, /secret/, 'the password is not repeated');
        return true;
      },
    );
  }
});

test('SLIPWAY_POSTGRES_URL: unset by default (the embedded cluster); a postgres:// URL or a clear refusal', () => {
  assert.equal(loadSettings({}, {}, '/srv').postgresUrl, undefined);
  const url = 'postgres://admin:secret@db.internal:5432/postgres';
  assert.equal(loadSettings({}, { SLIPWAY_POSTGRES_URL: url }, '/srv').postgresUrl, url);
  for (const bad of ['db.internal:5432', 'mysql://db/x', 'postgres:///only-a-path'])
    assert.throws(
      () => loadSettings({}, { SLIPWAY_POSTGRES_URL: bad }, '/srv'),
      /invalid setting postgresUrl \(SLIPWAY_POSTGRES_URL\): must be a postgres:\/\/user:password@host:port\/database URL/,
      bad,
    );
});
