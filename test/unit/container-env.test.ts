// The environment a process sees (DESIGN §1 "Runtime variables").

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { containerEnv, containerName, dynoName } from '../../src/core/container-env.ts';

describe('containerEnv', () => {
  test('web container: config vars plus APP, CONTAINER, CONTAINER_VERSION and DYNO', () => {
    const env = containerEnv({
      app: 'my-app',
      config: { DATABASE_URL: 'postgres://db/x', GREETING: 'hello world' },
      container: { type: 'web', index: 1 },
      version: '0123456789abcdef0123456789abcdef01234567',
    });
    assert.deepEqual(env, {
      DATABASE_URL: 'postgres://db/x',
      GREETING: 'hello world',
      APP: 'my-app',
      CONTAINER: 'web-1',
      CONTAINER_VERSION: '0123456789abcdef0123456789abcdef01234567',
      DYNO: 'web.1',
    });
  });

  test('worker, postdeploy and one-off containers are named by type and index', () => {
    const base = { app: 'a-b', config: {}, version: 'v7' };
    const worker = containerEnv({ ...base, container: { type: 'worker', index: 2 } });
    assert.equal(worker.CONTAINER, 'worker-2');
    assert.equal(worker.DYNO, 'worker.2');
    const hook = containerEnv({ ...base, container: { type: 'postdeploy', index: 1 } });
    assert.equal(hook.CONTAINER, 'postdeploy-1');
    assert.equal(hook.CONTAINER_VERSION, 'v7');
    const run = containerEnv({ ...base, container: { type: 'one-off', index: 3 } });
    assert.equal(run.CONTAINER, 'one-off-3');
    assert.equal(run.DYNO, 'run.3');
  });

  test('CONTAINER_MEMORY is set only when a memory limit is given, in bytes as on Scalingo', () => {
    const base = { app: 'app', config: {}, container: { type: 'web', index: 1 }, version: 'v1' };
    assert.ok(!('CONTAINER_MEMORY' in containerEnv(base)));
    assert.ok(!('CONTAINER_MEMORY' in containerEnv({ ...base, memoryMb: undefined })));
    assert.equal(containerEnv({ ...base, memoryMb: 512 }).CONTAINER_MEMORY, String(512 * 1024 * 1024));
  });

  test('config values are passed through untouched', () => {
    const config = { MULTI: 'a\nb', QUOTES: `"'`, DOLLAR: '$HOME', EMPTY: '' };
    const env = containerEnv({ app: 'app', config, container: { type: 'web', index: 1 }, version: 'v1' });
    for (const [k, v] of Object.entries(config)) assert.equal(env[k], v, k);
  });

  test('runtime variables override a config var of the same name', () => {
    const env = containerEnv({
      app: 'real-app',
      config: {
        APP: 'fake',
        CONTAINER: 'fake',
        CONTAINER_VERSION: 'fake',
        DYNO: 'fake',
        CONTAINER_MEMORY: '1',
        KEEP: 'y',
      },
      container: { type: 'web', index: 2 },
      version: 'v3',
      memoryMb: 256,
    });
    assert.equal(env.APP, 'real-app');
    assert.equal(env.CONTAINER, 'web-2');
    assert.equal(env.CONTAINER_VERSION, 'v3');
    assert.equal(env.DYNO, 'web.2');
    assert.equal(env.CONTAINER_MEMORY, String(256 * 1024 * 1024));
    assert.equal(env.KEEP, 'y');
  });

  test("nothing of the server's own environment leaks in", () => {
    const env = containerEnv({ app: 'app', config: {}, container: { type: 'web', index: 1 }, version: 'v1' });
    assert.deepEqual(Object.keys(env).sort(), ['APP', 'CONTAINER', 'CONTAINER_VERSION', 'DYNO']);
  });

  test('does not modify the config it is given', () => {
    const config = Object.freeze({ A: '1' });
    containerEnv({ app: 'app', config, container: { type: 'web', index: 1 }, version: 'v1' });
    assert.deepEqual(config, { A: '1' });
  });
});

describe('containerName / dynoName', () => {
  test('CONTAINER uses a dash, DYNO a dot, and one-off is `run` for DYNO', () => {
    assert.equal(containerName({ type: 'web', index: 1 }), 'web-1');
    assert.equal(dynoName({ type: 'web', index: 1 }), 'web.1');
    assert.equal(containerName({ type: 'one-off', index: 4 }), 'one-off-4');
    assert.equal(dynoName({ type: 'one-off', index: 4 }), 'run.4');
  });
});
