// The Store contract: one suite every store implementation must pass, run on
// SQLite (a file per case) and on PostgreSQL (a database per case in a
// cluster this file starts: test/helpers/postgres.ts), plus each opener's own
// promises (SQLite: file mode, WAL, migrations applied once; PostgreSQL:
// servers migrating at once, a clear error without the password).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { ContainerRecord } from '../src/core/types.ts';
import { type NewRelease, openSqliteStore, type Store } from '../src/store/index.ts';
import { migrateToLatest } from '../src/store/migrations/index.ts';
import { openPostgresStore } from '../src/store/open-postgres.ts';
import type { Database } from '../src/store/schema.ts';
import { type PostgresCluster, postgresSkipReason, startPostgres } from './helpers/postgres.ts';

type NewStore = () => Promise<Store>;

/** Every migration, in the order they run. */
const MIGRATIONS = [
  '001-initial',
  '002-day-two',
  '003-github-links',
  '004-release-phase',
  '005-boot-timeout-live-releases',
  '006-app-buildpacks',
  '007-addons',
  '008-app-https',
  '009-volumes',
];

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function release(app: string, extra: Partial<NewRelease> = {}): NewRelease {
  return {
    app,
    slugId: 'slug-1',
    config: { A: '1' },
    processes: { web: 'node server.js' },
    procfilePostdeploy: null,
    manifest: null,
    commitSha: null,
    description: 'Deploy',
    deploymentId: null,
    ...extra,
  };
}

function container(app: string, name: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: `${app}-${name}`,
    app,
    name,
    type: name.split('-')[0] ?? 'web',
    releaseVersion: 1,
    state: 'starting',
    port: null,
    pid: null,
    startedAt: '2025-01-01T00:00:00.000Z',
    restarts: 0,
    ...extra,
  };
}

export function storeContract(newStore: NewStore): void {
  async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const store = await newStore();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  }

  describe('apps', () => {
    test('create, get, list (sorted by name)', () =>
      withStore(async (store) => {
        const app = await store.apps.create('web-shop');
        assert.equal(app.name, 'web-shop');
        assert.equal(app.currentRelease, null);
        assert.equal(app.hookTimeoutMs, null);
        assert.match(app.createdAt, ISO_UTC);
        await store.apps.create('api');
        assert.deepEqual(await store.apps.get('web-shop'), app);
        assert.equal(await store.apps.get('nope'), undefined);
        assert.deepEqual(
          (await store.apps.list()).map((a) => a.name),
          ['api', 'web-shop'],
        );
      }));

    test('a taken name fails with app.already_exists and leaves the app as it was', () =>
      withStore(async (store) => {
        const first = await store.apps.create('shop');
        await store.apps.setCurrentRelease('shop', 3);
        await assert.rejects(store.apps.create('shop'), { name: 'SlipwayError', code: 'app.already_exists' });
        assert.deepEqual(await store.apps.require('shop'), { ...first, currentRelease: 3 });
      }));

    test('require of a missing app fails with app.not_found', () =>
      withStore(async (store) => {
        await assert.rejects(store.apps.require('ghost'), {
          name: 'SlipwayError',
          code: 'app.not_found',
          message: 'app "ghost" not found',
        });
      }));

    test('setCurrentRelease sets and clears; a missing app is app.not_found', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.setCurrentRelease('shop', 2);
        assert.equal((await store.apps.require('shop')).currentRelease, 2);
        await store.apps.setCurrentRelease('shop', null);
        assert.equal((await store.apps.require('shop')).currentRelease, null);
        await assert.rejects(store.apps.setCurrentRelease('ghost', 1), { code: 'app.not_found' });
      }));

    test('a release went live when it first became current, and stays so', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        const v1 = await store.releases.create(release('shop'));
        await store.releases.create(release('shop'));
        assert.equal(v1.liveAt, null);
        await store.apps.setCurrentRelease('shop', 1);
        const wentLive = (await store.releases.get('shop', 1))?.liveAt;
        assert.match(wentLive ?? '', ISO_UTC);
        await store.apps.setCurrentRelease('shop', 2);
        await store.apps.setCurrentRelease('shop', 1);
        assert.equal((await store.releases.get('shop', 1))?.liveAt, wentLive, 'the first time is kept');
        assert.notEqual((await store.releases.get('shop', 2))?.liveAt, null);
        assert.equal((await store.releases.create(release('shop'))).liveAt, null);
      }));

    test('each app gets its own uid; sizes and hook settings update and reset', () =>
      withStore(async (store) => {
        const a = await store.apps.create('a');
        const b = await store.apps.create('b');
        assert.ok(a.uid >= 20001, `uid ${a.uid} is above system users`);
        assert.notEqual(a.uid, b.uid);
        assert.equal(a.containerSize, 'M');
        assert.equal(a.hookSize, null);
        assert.equal(a.bootTimeoutMs, null);
        assert.equal(a.restoreOnHookFailure, false);
        assert.equal((await store.apps.update('a', { restoreOnHookFailure: true })).restoreOnHookFailure, true);
        assert.equal((await store.apps.get('b'))?.restoreOnHookFailure, false);
        const updated = await store.apps.update('a', {
          containerSize: 'L',
          hookSize: 'S',
          hookTimeoutMs: 5000,
          bootTimeoutMs: 90_000,
        });
        assert.equal(updated.bootTimeoutMs, 90_000);
        assert.deepEqual(
          [updated.containerSize, updated.hookSize, updated.hookTimeoutMs, updated.uid],
          ['L', 'S', 5000, a.uid],
        );
        const reset = await store.apps.update('a', {
          hookSize: null,
          hookTimeoutMs: null,
          restoreOnHookFailure: false,
        });
        assert.deepEqual(
          [reset.containerSize, reset.hookSize, reset.hookTimeoutMs, reset.restoreOnHookFailure],
          ['L', null, null, false],
        );
        await assert.rejects(store.apps.update('ghost', { containerSize: 'S' }), { code: 'app.not_found' });
        // Volumes: a list kept with the app, in order; an empty list clears it.
        assert.deepEqual(a.volumes, []);
        const volume = { id: 'v-1', path: '/app/data', sizeBytes: 33_554_432, createdAt: '2026-01-01T00:00:00.000Z' };
        const data = { ...volume, id: 'v-2', path: '/data' };
        assert.deepEqual((await store.apps.update('a', { volumes: [volume, data] })).volumes, [volume, data]);
        assert.deepEqual((await store.apps.get('b'))?.volumes, []);
        assert.deepEqual((await store.apps.update('a', { volumes: [] })).volumes, []);
      }));

    test('concurrent creates all succeed, each with its own uid; a name taken twice at once, once', () =>
      withStore(async (store) => {
        const names = Array.from({ length: 8 }, (_, i) => `app-${i}`);
        const made = await Promise.all(names.map((name) => store.apps.create(name)));
        assert.equal(new Set(made.map((a) => a.uid)).size, names.length);
        const twice = await Promise.allSettled([store.apps.create('twin'), store.apps.create('twin')]);
        assert.deepEqual(twice.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const failure = twice.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.equal(failure.reason.code, 'app.already_exists');
        assert.equal((await store.apps.list()).length, names.length + 1);
      }));

    test("HTTPS settings: ACME certificates follow the server's default until set; redirect and HSTS off until set", () =>
      withStore(async (store) => {
        const a = await store.apps.create('a');
        assert.deepEqual([a.certsAuto, a.forceHttps, a.hsts], [null, false, false]);
        const on = await store.apps.update('a', { certsAuto: true, forceHttps: true, hsts: true });
        assert.deepEqual([on.certsAuto, on.forceHttps, on.hsts], [true, true, true]);
        const off = await store.apps.update('a', { certsAuto: false, hsts: false });
        assert.deepEqual([off.certsAuto, off.forceHttps, off.hsts], [false, true, false]);
        const back = await store.apps.update('a', { certsAuto: null });
        assert.equal(back.certsAuto, null);
        assert.equal((await store.apps.create('b')).forceHttps, false, 'another app keeps its own');
      }));

    test('delete removes everything of that app and nothing of others', () =>
      withStore(async (store) => {
        for (const name of ['doomed', 'kept']) {
          await store.apps.create(name);
          await store.config.update(name, { K: 'v' });
          await store.releases.create(release(name));
          const d = await store.deployments.create({ app: name, kind: 'build', source: 'upload' });
          await store.deployments.startStep(d.id, 'fetch', '2025-01-01T00:00:00.000Z');
          await store.formation.set(name, { web: 1 });
          await store.containers.put(container(name, 'web-1'));
          await store.domains.add(name, `www.${name}.example`);
        }
        const doomedDeployment = (await store.deployments.list('doomed'))[0];
        assert.ok(doomedDeployment);

        await store.apps.delete('doomed');

        assert.equal(await store.apps.get('doomed'), undefined);
        assert.deepEqual(await store.config.get('doomed'), {});
        assert.deepEqual(await store.releases.list('doomed'), []);
        assert.deepEqual(await store.deployments.list('doomed'), []);
        assert.equal(await store.deployments.get(doomedDeployment.id), undefined);
        assert.deepEqual(await store.formation.get('doomed'), {});
        assert.deepEqual(await store.containers.list('doomed'), []);
        assert.deepEqual(await store.domains.list('doomed'), []);

        assert.deepEqual(await store.config.get('kept'), { K: 'v' });
        assert.equal((await store.releases.list('kept')).length, 1);
        assert.equal((await store.deployments.list('kept'))[0]?.steps.length, 1);
        assert.deepEqual(await store.formation.get('kept'), { web: 1 });
        assert.equal((await store.containers.list()).length, 1);

        // A new app of the same name starts from scratch.
        await store.apps.create('doomed');
        assert.equal((await store.releases.create(release('doomed'))).version, 1);
        await assert.rejects(store.apps.delete('ghost'), { code: 'app.not_found' });
      }));
  });

  describe('config', () => {
    test('update applies sets and unsets and returns the whole config, keys sorted', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        assert.deepEqual(await store.config.get('shop'), {});
        const first = await store.config.update('shop', { ZED: 'z', ALPHA: 'a', MID: 'm' });
        assert.deepEqual(Object.keys(first), ['ALPHA', 'MID', 'ZED']);
        const second = await store.config.update('shop', { MID: null, ALPHA: 'changed', NOT_SET: null, NEW: 'n' });
        assert.deepEqual(second, { ALPHA: 'changed', NEW: 'n', ZED: 'z' });
        assert.deepEqual(Object.keys(second), ['ALPHA', 'NEW', 'ZED']);
        assert.deepEqual(await store.config.get('shop'), second);
      }));

    test("keys are sorted byte by byte (as `env` in a shell), whatever the database's locale", () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        const config = await store.config.update('shop', { b: '1', B_X: '2', A: '3', a: '4', _z: '5' });
        assert.deepEqual(Object.keys(config), ['A', 'B_X', '_z', 'a', 'b']);
      }));

    test('update of a missing app fails with app.not_found, even for unsets only', () =>
      withStore(async (store) => {
        await assert.rejects(store.config.update('ghost', { A: '1' }), { code: 'app.not_found' });
        await assert.rejects(store.config.update('ghost', { A: null }), { code: 'app.not_found' });
      }));
  });

  describe('releases', () => {
    test('numbered 1, 2, 3 per app; listed newest first; fields round-trip', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        const manifest = { file: 'app.json' as const, postdeploy: 'npm run migrate', firstDeploy: null };
        const r1 = await store.releases.create(
          release('shop', {
            config: { B: '2', A: '1' },
            processes: { web: 'npm start', worker: 'node worker.js' },
            procfilePostdeploy: './migrate.sh && echo ok',
            releaseCommand: 'npm run migrate',
            manifest,
            commitSha: 'abc123',
            deploymentId: 'd-aaaaaaaaaaaa',
          }),
        );
        assert.equal(r1.version, 1);
        assert.deepEqual(r1.config, { B: '2', A: '1' });
        assert.deepEqual(r1.processes, { web: 'npm start', worker: 'node worker.js' });
        assert.equal(r1.procfilePostdeploy, './migrate.sh && echo ok');
        assert.equal(r1.releaseCommand, 'npm run migrate');
        assert.deepEqual(r1.manifest, manifest);
        assert.equal(r1.commitSha, 'abc123');
        assert.equal(r1.deploymentId, 'd-aaaaaaaaaaaa');
        assert.match(r1.createdAt, ISO_UTC);
        assert.equal((await store.releases.create(release('shop'))).version, 2);
        assert.equal((await store.releases.create(release('blog'))).version, 1);
        assert.equal((await store.releases.create(release('shop'))).version, 3);

        assert.deepEqual(
          (await store.releases.list('shop')).map((r) => r.version),
          [3, 2, 1],
        );
        assert.deepEqual(await store.releases.get('shop', 1), r1);
        assert.equal((await store.releases.get('shop', 2))?.manifest, null);
        assert.equal((await store.releases.get('shop', 2))?.releaseCommand, null);
        assert.equal(await store.releases.get('shop', 9), undefined);
      }));

    test('concurrent creates get distinct consecutive versions', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        const made = await Promise.all(Array.from({ length: 8 }, () => store.releases.create(release('shop'))));
        assert.deepEqual(
          made.map((r) => r.version).sort((a, b) => a - b),
          [1, 2, 3, 4, 5, 6, 7, 8],
        );
      }));

    test('a release for a missing app fails with app.not_found', () =>
      withStore(async (store) => {
        await assert.rejects(store.releases.create(release('ghost')), { code: 'app.not_found' });
      }));
  });

  describe('deployments', () => {
    test('latestOfEachApp: the newest deployment of every app that has one', () =>
      withStore(async (store) => {
        for (const name of ['a', 'b', 'quiet']) await store.apps.create(name);
        await store.deployments.create({ app: 'a', kind: 'build', source: 'upload' });
        const a2 = await store.deployments.create({ app: 'a', kind: 'build', source: 'upload' });
        await store.deployments.update(a2.id, { status: 'building' });
        const b1 = await store.deployments.create({ app: 'b', kind: 'build', source: 'upload' });
        const latest = await store.deployments.latestOfEachApp();
        assert.deepEqual([...latest.keys()].sort(), ['a', 'b']);
        assert.deepEqual(latest.get('a'), { id: a2.id, status: 'building', createdAt: a2.createdAt });
        assert.equal(latest.get('b')?.id, b1.id);
      }));

    test('create: queued, fresh d- id, no step, nothing recorded yet', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        const d = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload', gitRef: 'main' });
        assert.match(d.id, /^d-[a-z2-7]{12}$/);
        assert.equal(d.status, 'queued');
        assert.equal(d.step, null);
        assert.equal(d.kind, 'build');
        assert.equal(d.source, 'upload');
        assert.equal(d.gitRef, 'main');
        assert.equal(d.commitSha, null);
        assert.equal(d.releaseVersion, null);
        assert.equal(d.hook, null);
        assert.equal(d.error, null);
        assert.equal(d.finishedAt, null);
        assert.deepEqual(d.steps, []);
        assert.match(d.createdAt, ISO_UTC);
        assert.deepEqual(await store.deployments.get(d.id), d);
        const other = await store.deployments.create({
          app: 'shop',
          kind: 'config',
          source: 'config',
          releaseVersion: 4,
        });
        assert.notEqual(other.id, d.id);
        assert.equal(other.releaseVersion, 4);
        assert.equal(await store.deployments.get('d-missing00000'), undefined);
        await assert.rejects(store.deployments.create({ app: 'ghost', kind: 'build', source: 'upload' }), {
          code: 'app.not_found',
        });
      }));

    test('update changes only the given fields and returns the fresh record', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        const d = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' });
        const hook = { command: 'npm run migrate', source: 'Procfile', exitCode: null };
        const a = await store.deployments.update(d.id, { status: 'starting', releaseVersion: 1, hook });
        assert.equal(a.status, 'starting');
        assert.equal(a.releaseVersion, 1);
        assert.deepEqual(a.hook, hook);
        const b = await store.deployments.update(d.id, {
          status: 'hook-error',
          hook: { ...hook, exitCode: 3 },
          error: { code: 'deploy.hook_failed', message: 'postdeploy exited with 3' },
          finishedAt: '2025-01-01T00:00:05.000Z',
        });
        assert.deepEqual(b.hook, { ...hook, exitCode: 3 });
        assert.deepEqual(b.error, { code: 'deploy.hook_failed', message: 'postdeploy exited with 3' });
        assert.equal(b.finishedAt, '2025-01-01T00:00:05.000Z');
        assert.equal(b.releaseVersion, 1, 'fields not in the patch are kept');
        const c = await store.deployments.update(d.id, { hook: null, error: null, commitSha: 'abc' });
        assert.equal(c.hook, null);
        assert.equal(c.error, null);
        assert.equal(c.commitSha, 'abc');
        assert.equal(c.status, 'hook-error');
        assert.deepEqual(await store.deployments.update(d.id, {}), c);
        assert.deepEqual(await store.deployments.get(d.id), c);
        await assert.rejects(store.deployments.update('d-missing00000', { status: 'aborted' }), {
          code: 'deployment.not_found',
        });
      }));

    test('steps: starting one finishes the previous; listed in start order', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        const d = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' });
        await store.deployments.startStep(d.id, 'fetch', '2025-01-01T00:00:01.000Z');
        await store.deployments.startStep(d.id, 'build', '2025-01-01T00:00:02.000Z');
        await store.deployments.finishStep(d.id, 'build', '2025-01-01T00:00:03.000Z');
        await store.deployments.startStep(d.id, 'slug', '2025-01-01T00:00:03.000Z');
        const got = await store.deployments.get(d.id);
        assert.equal(got?.step, 'slug');
        assert.deepEqual(got?.steps, [
          { name: 'fetch', startedAt: '2025-01-01T00:00:01.000Z', finishedAt: '2025-01-01T00:00:02.000Z' },
          { name: 'build', startedAt: '2025-01-01T00:00:02.000Z', finishedAt: '2025-01-01T00:00:03.000Z' },
          { name: 'slug', startedAt: '2025-01-01T00:00:03.000Z', finishedAt: null },
        ]);
        await assert.rejects(store.deployments.startStep('d-missing00000', 'fetch', '2025-01-01T00:00:00.000Z'), {
          code: 'deployment.not_found',
        });
      }));

    test('nextQueued is FIFO per app, even within the same millisecond', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        assert.equal(await store.deployments.nextQueued('shop'), undefined);
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          ids.push((await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' })).id);
        }
        await store.deployments.create({ app: 'blog', kind: 'build', source: 'upload' });
        assert.equal((await store.deployments.nextQueued('shop'))?.id, ids[0]);
        await store.deployments.update(ids[0] ?? '', { status: 'building' });
        assert.equal((await store.deployments.nextQueued('shop'))?.id, ids[1]);
        await store.deployments.update(ids[1] ?? '', { status: 'aborted' });
        assert.equal((await store.deployments.nextQueued('shop'))?.id, ids[2]);
      }));

    test('listUnfinished returns every non-final deployment, oldest first', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        const a = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' });
        const b = await store.deployments.create({ app: 'blog', kind: 'build', source: 'upload' });
        const c = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' });
        const d = await store.deployments.create({ app: 'blog', kind: 'config', source: 'config' });
        await store.deployments.update(a.id, { status: 'starting' });
        await store.deployments.update(b.id, { status: 'success' });
        await store.deployments.update(c.id, { status: 'crashed-error' });
        assert.deepEqual(
          (await store.deployments.listUnfinished()).map((x) => [x.id, x.status]),
          [
            [a.id, 'starting'],
            [d.id, 'queued'],
          ],
        );
      }));

    test('hasSucceeded: only a successful build deployment counts', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        assert.equal(await store.deployments.hasSucceeded('shop'), false);
        const failed = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' });
        await store.deployments.update(failed.id, { status: 'hook-error' });
        const config = await store.deployments.create({ app: 'shop', kind: 'config', source: 'config' });
        await store.deployments.update(config.id, { status: 'success' });
        const other = await store.deployments.create({ app: 'blog', kind: 'build', source: 'upload' });
        await store.deployments.update(other.id, { status: 'success' });
        assert.equal(await store.deployments.hasSucceeded('shop'), false);
        const ok = await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' });
        await store.deployments.update(ok.id, { status: 'success' });
        assert.equal(await store.deployments.hasSucceeded('shop'), true);
      }));

    test('list is newest first, per app, limited (50 by default)', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        const ids: string[] = [];
        for (let i = 0; i < 53; i++) {
          ids.push((await store.deployments.create({ app: 'shop', kind: 'build', source: 'upload' })).id);
        }
        await store.deployments.create({ app: 'blog', kind: 'build', source: 'upload' });
        const all = await store.deployments.list('shop');
        assert.equal(all.length, 50);
        assert.deepEqual(
          all.map((d) => d.id),
          ids.slice(3).reverse(),
        );
        assert.deepEqual(
          (await store.deployments.list('shop', 2)).map((d) => d.id),
          [ids[52], ids[51]],
        );
      }));
  });

  describe('formation', () => {
    test('set upserts per type; get returns only scaled types', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        assert.deepEqual(await store.formation.get('shop'), {});
        await store.formation.set('shop', { web: 1, worker: 0 });
        await store.formation.set('shop', { web: 3 });
        assert.deepEqual(await store.formation.get('shop'), { web: 3, worker: 0 });
        await assert.rejects(store.formation.set('shop', { web: -1 }), { code: 'request.invalid' });
        await assert.rejects(store.formation.set('shop', { web: 1.5 }), { code: 'request.invalid' });
        await assert.rejects(store.formation.set('ghost', { web: 1 }), { code: 'app.not_found' });
        assert.deepEqual(await store.formation.get('shop'), { web: 3, worker: 0 });
      }));
  });

  describe('containers', () => {
    test('put upserts by id; setState; remove; list by app or all', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        await store.containers.put(container('shop', 'web-10'));
        await store.containers.put(container('shop', 'web-2', { port: 5001, pid: 42 }));
        await store.containers.put(container('shop', 'worker-1'));
        await store.containers.put(container('blog', 'web-1'));
        assert.deepEqual(
          (await store.containers.list('shop')).map((c) => c.name),
          ['web-2', 'web-10', 'worker-1'],
        );
        assert.equal((await store.containers.list()).length, 4);

        await store.containers.put(container('shop', 'web-2', { port: 5002, pid: 43, restarts: 1, state: 'up' }));
        await store.containers.setState('shop-web-10', 'crashed');
        await store.containers.remove('shop-worker-1');
        const shop = await store.containers.list('shop');
        assert.deepEqual(shop, [
          container('shop', 'web-2', { port: 5002, pid: 43, restarts: 1, state: 'up' }),
          container('shop', 'web-10', { state: 'crashed' }),
        ]);
        await assert.rejects(store.containers.put(container('ghost', 'web-1')), { code: 'app.not_found' });
      }));
  });

  describe('domains', () => {
    test('add, list sorted, remove; a hostname belongs to one app', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        await store.domains.add('shop', 'www.shop.example');
        await store.domains.add('shop', 'api.shop.example');
        assert.deepEqual(await store.domains.list('shop'), ['api.shop.example', 'www.shop.example']);
        await assert.rejects(store.domains.add('blog', 'www.shop.example'), { code: 'domain.taken' });
        await assert.rejects(store.domains.add('shop', 'www.shop.example'), { code: 'domain.taken' });
        await assert.rejects(store.domains.remove('blog', 'www.shop.example'), { code: 'domain.not_found' });
        await store.domains.remove('shop', 'www.shop.example');
        assert.deepEqual(await store.domains.list('shop'), ['api.shop.example']);
        await assert.rejects(store.domains.add('ghost', 'x.example'), { code: 'app.not_found' });
      }));
  });

  describe('tokens', () => {
    test('create, findByHash, count', () =>
      withStore(async (store) => {
        assert.equal(await store.tokens.count(), 0);
        await store.tokens.create('admin', 'hash-1');
        assert.deepEqual(await store.tokens.findByHash('hash-1'), { name: 'admin' });
        assert.equal(await store.tokens.findByHash('hash-2'), undefined);
        assert.equal(await store.tokens.count(), 1);
      }));
  });

  describe('githubLinks', () => {
    const link = (app: string, repo = 'Acme/Shop') => ({
      app,
      repo,
      branch: 'main',
      autoDeploy: true,
      secret: `secret-${app}`,
      token: null,
    });

    test('put creates or replaces the app link; findByRepo ignores case; remove', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        const created = await store.githubLinks.put(link('shop'));
        assert.equal(created.repo, 'acme/shop');
        assert.equal(created.autoDeploy, true);
        await store.githubLinks.put(link('blog'));
        await store.githubLinks.put({ ...link('shop'), branch: 'prod', autoDeploy: false, token: 'tok' });
        const shop = await store.githubLinks.get('shop');
        assert.deepEqual([shop?.branch, shop?.autoDeploy, shop?.token], ['prod', false, 'tok']);
        assert.deepEqual(
          (await store.githubLinks.findByRepo('ACME/shop')).map((l) => l.app),
          ['blog', 'shop'],
        );
        assert.deepEqual(await store.githubLinks.findByRepo('acme/other'), []);
        assert.equal(await store.githubLinks.remove('blog'), true);
        assert.equal(await store.githubLinks.remove('blog'), false);
        await assert.rejects(store.githubLinks.put(link('ghost')), { code: 'app.not_found' });
        await store.apps.delete('shop');
        assert.equal(await store.githubLinks.get('shop'), undefined);
      }));

    test('recordDelivery: true once per id, keeping only the newest ids', () =>
      withStore(async (store) => {
        assert.equal(await store.githubLinks.recordDelivery('d-1', 2), true);
        assert.equal(await store.githubLinks.recordDelivery('d-1', 2), false);
        assert.equal(await store.githubLinks.recordDelivery('d-2', 2), true);
        assert.equal(await store.githubLinks.recordDelivery('d-3', 2), true);
        assert.equal(await store.githubLinks.recordDelivery('d-3', 2), false);
        assert.equal(await store.githubLinks.recordDelivery('d-1', 2), true, 'the oldest id was forgotten');
      }));
  });

  describe('addons', () => {
    test('add, get, list by name, remove; one name per app; gone with the app', () =>
      withStore(async (store) => {
        await store.apps.create('shop');
        await store.apps.create('blog');
        const db = await store.addons.add({ app: 'shop', name: 'DATABASE', provider: 'postgresql', resource: 'r1' });
        assert.match(db.createdAt, ISO_UTC);
        await store.addons.add({ app: 'shop', name: 'ANALYTICS', provider: 'postgresql', resource: 'r2' });
        await store.addons.add({ app: 'blog', name: 'DATABASE', provider: 'postgresql', resource: 'r3' });
        await assert.rejects(
          store.addons.add({ app: 'shop', name: 'DATABASE', provider: 'postgresql', resource: 'r4' }),
          { code: 'addon.already_exists' },
        );
        await assert.rejects(
          store.addons.add({ app: 'ghost', name: 'DATABASE', provider: 'postgresql', resource: 'r5' }),
          { code: 'app.not_found' },
        );
        assert.deepEqual(
          (await store.addons.list('shop')).map((a) => [a.name, a.resource]),
          [
            ['ANALYTICS', 'r2'],
            ['DATABASE', 'r1'],
          ],
        );
        assert.equal((await store.addons.get('blog', 'DATABASE'))?.resource, 'r3');
        assert.equal(await store.addons.remove('shop', 'ANALYTICS'), true);
        assert.equal(await store.addons.remove('shop', 'ANALYTICS'), false);
        await store.apps.delete('shop');
        assert.deepEqual(await store.addons.list('shop'), []);
        assert.equal((await store.addons.list('blog')).length, 1);
      }));
  });
}

describe('Store contract on SQLite', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-store-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  storeContract(() => openSqliteStore({ file: path.join(dir, `store-${++n}.db`) }));
});

/** The names of the apps in the store that `opening` opens; the store is closed again. */
async function appNames(opening: Promise<Store>): Promise<string[]> {
  const store = await opening;
  try {
    return (await store.apps.list()).map((a) => a.name);
  } finally {
    await store.close();
  }
}

// Four cases at a time (each has a database of its own): most of a case's time is the database's.
describe('Store contract on PostgreSQL', { skip: postgresSkipReason(), concurrency: 4 }, () => {
  let cluster: PostgresCluster | undefined;
  /** A database the opener migrated: each case gets a copy (a copy takes a third of migrating). */
  let migrated = '';
  before(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    await (await openPostgresStore({ url })).close();
    migrated = new URL(url).pathname.slice(1);
  });
  after(() => cluster?.stop());
  const fresh = async () => (cluster as PostgresCluster).createDatabase();
  storeContract(async () => openPostgresStore({ url: await (cluster as PostgresCluster).createDatabase(migrated) }));

  describe('openPostgresStore', () => {
    test('servers starting at once against a new database migrate it once, and both work', async () => {
      const url = await fresh();
      const stores = await Promise.all(Array.from({ length: 3 }, () => openPostgresStore({ url })));
      try {
        await stores[0]?.apps.create('shop');
        assert.deepEqual(
          (await stores[2]?.apps.list())?.map((a) => a.name),
          ['shop'],
        );
        const raw = new pg.Client({ connectionString: url });
        await raw.connect();
        try {
          const { rows } = await raw.query('select name from kysely_migration order by name');
          assert.deepEqual(
            rows.map((r) => r.name),
            MIGRATIONS,
          );
        } finally {
          await raw.end();
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
      assert.deepEqual(await appNames(openPostgresStore({ url })), ['shop']);
    });

    test('an exclusive store keeps the database to itself until closed, and names its holder', async () => {
      const url = await fresh();
      const first = await openPostgresStore({ url, exclusive: true });
      await first.apps.create('shop');
      await assert.rejects(openPostgresStore({ url, exclusive: true }), (err: Error) => {
        assert.match(
          err.message,
          /: another Slipway server is using this database \(slipway server on [^,]+, from 127\.0\.0\.1, since \d{4}-\d\d-\d\dT[\d:]+Z\): one server runs per database, stop that one first$/,
        );
        return true;
      });
      await first.close();
      assert.deepEqual(await appNames(openPostgresStore({ url, exclusive: true })), ['shop']);
    });

    test('a wrong password or an unreachable server fails clearly, and never shows the password', async () => {
      const url = new URL(await fresh());
      url.password = 'not-the-password-42';
      await assert.rejects(openPostgresStore({ url: url.toString() }), (err: Error) => {
        assert.match(
          err.message,
          /^cannot open the store at postgres:\/\/slipway:\*\*\*@127\.0\.0\.1:\d+\/store_\w+: /,
        );
        assert.match(err.message, /password authentication failed/);
        assert.doesNotMatch(err.message, /not-the-password-42/);
        return true;
      });
      url.port = '1';
      await assert.rejects(openPostgresStore({ url: url.toString() }), (err: Error) => {
        assert.match(err.message, /ECONNREFUSED/);
        assert.doesNotMatch(err.message, /not-the-password-42/);
        return true;
      });
    });
  });
});

describe('openSqliteStore', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-sqlite-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('creates a private directory and a 0600 database file in WAL mode', async () => {
    const file = path.join(dir, 'new', 'home', 'slipway.db');
    const store = await openSqliteStore({ file });
    await store.apps.create('shop');
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600);
    await store.close();
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      raw.close();
    }
  });

  test('tightens an existing database file to 0600', async () => {
    const file = path.join(dir, 'loose.db');
    fs.writeFileSync(file, '', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const store = await openSqliteStore({ file });
    await store.close();
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  test('reopening keeps the data and does not re-run migrations', async () => {
    const file = path.join(dir, 'reopen.db');
    const readMigrations = () => {
      const raw = new SqliteDatabase(file, { readonly: true });
      try {
        return raw.prepare('select name, timestamp from kysely_migration order by name').all();
      } finally {
        raw.close();
      }
    };
    const first = await openSqliteStore({ file });
    await first.apps.create('shop');
    await first.config.update('shop', { A: '1' });
    await first.releases.create(release('shop'));
    await first.close();
    const applied = readMigrations();
    assert.deepEqual(
      applied.map((m) => (m as { name: string }).name),
      MIGRATIONS,
    );

    const second = await openSqliteStore({ file });
    try {
      assert.deepEqual(await second.config.get('shop'), { A: '1' });
      assert.equal((await second.releases.create(release('shop'))).version, 2);
    } finally {
      await second.close();
    }
    assert.deepEqual(readMigrations(), applied);
  });

  test('migration 005 marks the releases that were live before it as live, and only those', async () => {
    const file = path.join(dir, 'before-005.db');
    const old = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
    await migrateToLatest(old, '004-release-phase');
    await old.destroy();
    const raw = new SqliteDatabase(file);
    const at = '2026-01-01T00:00:00.000Z';
    raw
      .prepare(
        "insert into apps (name, created_at, current_release, uid, container_size) values ('shop', ?, 2, 20001, 'M')",
      )
      .run(at);
    for (const version of [1, 2, 3, 4]) {
      raw
        .prepare(
          "insert into releases (app, version, slug_id, config, processes, description, created_at) values ('shop', ?, 's', '{}', '{}', 'd', ?)",
        )
        .run(version, at);
    }
    // v1 went live once (a successful deployment), v2 is current, v3's deployment failed, v4 never got one.
    const deployment = raw.prepare(
      "insert into deployments (id, app, kind, status, source, release_version, created_at) values (?, 'shop', 'build', ?, 'upload', ?, ?)",
    );
    deployment.run('d-1', 'success', 1, at);
    deployment.run('d-3', 'crashed-error', 3, at);
    raw.close();
    const store = await openSqliteStore({ file });
    try {
      const live = (await store.releases.list('shop')).map((r) => [r.version, r.liveAt]);
      assert.deepEqual(live, [
        [4, null],
        [3, null],
        [2, at],
        [1, at],
      ]);
    } finally {
      await store.close();
    }
  });

  test("':memory:' gives a working throwaway store", async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    try {
      await store.apps.create('shop');
      assert.equal((await store.apps.list()).length, 1);
    } finally {
      await store.close();
    }
  });

  test("apps get uids from the home's own range, and a clear error once it is used up", async () => {
    const store = await openSqliteStore({ file: ':memory:', uids: { first: 50_001, last: 50_002 } });
    try {
      assert.equal((await store.apps.create('one')).uid, 50_001);
      assert.equal((await store.apps.create('two')).uid, 50_002);
      await assert.rejects(store.apps.create('three'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'app.limit_reached');
        return true;
      });
      assert.equal((await store.apps.list()).length, 2);
    } finally {
      await store.close();
    }
  });
});
