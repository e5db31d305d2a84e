// The control plane on PostgreSQL (SLIPWAY_DATABASE_URL), through the real
// `slipway server`: apps, config and releases live in the database, so a
// restart finds them, and a server started on another home (the control plane
// moved to another host) sees the same apps, tokens and config; a database
// restart under a running server is survived. Slugs and
// logs stay in each home: that server cannot boot a release built elsewhere
// until it is deployed there again, nor roll back to one (docs/scale-out.md).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type PostgresCluster, postgresSkipReason, startPostgres } from '../helpers/postgres.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';

const APP = 'shared';
const HOST = `${APP}.localhost`;

describe('the store on PostgreSQL', { skip: postgresSkipReason() }, () => {
  let cluster: PostgresCluster | undefined;
  let url = '';
  let slipway: Slipway | undefined;
  const homes: string[] = [];
  const start = async (home?: string) => {
    slipway = await startSlipway({ env: { SLIPWAY_DATABASE_URL: url }, ...(home ? { home } : {}) });
    homes.push(slipway.home);
    return slipway;
  };
  const served = async (s: Slipway) => {
    const res = await routerGet(s.routerPort, HOST);
    return res.status === 200 ? (JSON.parse(res.body) as { jwt: string }).jwt : `HTTP ${res.status}`;
  };

  before(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase();
  });
  after(async () => {
    await slipway?.stop({ keepHome: true });
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    await cluster?.stop();
  });

  test('apps, config and releases are written to the database, not to the home', async () => {
    const s = await start();
    assert.equal((await s.cli(['apps:create', APP])).code, 0);
    assert.equal((await s.cli(['env:set', 'JWT_SECRET=from-postgres', '-a', APP])).code, 0);
    const deployed = await s.cli(['deploy', fixtureCopy('needs-secret'), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.equal(await served(s), 'from-postgres');

    assert.equal(fs.existsSync(`${s.home}/slipway.db`), false, 'no SQLite store in the home');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const apps = await db.query('select name, current_release from apps');
      assert.deepEqual(apps.rows, [{ name: APP, current_release: 1 }]);
      const config = await db.query('select key, value from config_vars where app = $1', [APP]);
      assert.deepEqual(config.rows, [{ key: 'JWT_SECRET', value: 'from-postgres' }]);
    } finally {
      await db.end();
    }
    assert.ok(
      s.serverOutput.every((line) => !line.includes(cluster?.password ?? '-')),
      'the server never prints the database password',
    );
  });

  test('a restart against the same database finds the app and routes it again', async () => {
    const home = (slipway as Slipway).home;
    await slipway?.stop({ keepHome: true });
    const s = await start(home);
    assert.match((await s.cli(['apps'])).stdout, new RegExp(`^${APP}\\b`, 'm'));
    await waitFor(async () => (await served(s)) === 'from-postgres', 'the app served again', 15_000);
    const env = await s.cli(['env', '-a', APP]);
    assert.equal(env.stdout, 'JWT_SECRET=from-postgres');
  });

  test('while the database restarts the apps keep serving and the API says so; then all works again', async () => {
    const s = slipway as Slipway;
    const restarted = cluster?.restart(3000);
    const down = await waitForValue(
      async () => {
        const apps = await s.cli(['apps']);
        return apps.code === 0 ? undefined : apps;
      },
      'the API to notice',
      5000,
    );
    assert.equal(down.code, 8, down.stderr);
    assert.match(down.stderr, /^error: the database is not answering \(.+\): try again once it is back$/);
    assert.equal(await served(s), 'from-postgres', 'the app serves while its database is down');
    await restarted;
    await waitFor(async () => (await s.cli(['apps'])).code === 0, 'the API back', 5000);
    const set = await s.cli(['env:set', 'MODE=after-restart', '-a', APP]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(await served(s), 'from-postgres');
    await waitFor(
      () => s.serverOutput.some((line) => line.includes("this server's claim on the database is held again")),
      'the claim taken again',
      10_000,
    );
  });

  test('a second server against the same database refuses to start while the first runs', async () => {
    const other = startSlipway({ env: { SLIPWAY_DATABASE_URL: url } });
    await assert.rejects(other, (err: Error) => {
      assert.match(
        err.message,
        /error: cannot open the store at postgres:\/\/slipway:\*\*\*@127\.0\.0\.1:\d+\/\w+: another Slipway server is using this database \(slipway server on /,
      );
      assert.doesNotMatch(err.message, new RegExp(cluster?.password ?? '-'));
      return true;
    });
    assert.equal(await served(slipway as Slipway), 'from-postgres', 'the first one still serves');
  });

  test('a server on another home sees the same apps; it serves a release once deployed there', async () => {
    await slipway?.stop({ keepHome: true });
    const s = await start();
    // The same token (stored hashed in the database), the same apps, config and releases.
    assert.match((await s.cli(['apps'])).stdout, new RegExp(`^${APP}\\b`, 'm'));
    assert.equal((await s.cli(['env', '-a', APP])).stdout, 'JWT_SECRET=from-postgres\nMODE=after-restart');
    assert.match((await s.cli(['releases', '-a', APP])).stdout, /^v2 \* /m);
    // v2's slug is in the first home: this one cannot boot it, and says so; the app answers 503.
    assert.equal(await served(s), 'HTTP 503');
    assert.ok(
      s.serverOutput.some((line) => line.includes('could not restart the current release')),
      s.serverOutput.join('\n'),
    );
    const deployed = await s.cli(['deploy', fixtureCopy('needs-secret'), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.equal(await served(s), 'from-postgres');
    assert.match((await s.cli(['releases', '-a', APP])).stdout, /^v3 \* /m);
    // Rolling back to v1 here needs v1's slug, which this home never had: a failed deployment, v3 still serving.
    const rollback = await s.cli(['rollback', 'v1', '-a', APP]);
    assert.equal(rollback.code, 7);
    assert.match(
      rollback.stderr,
      /failed with status crashed-error at step boot: cannot start web-1: slug \S+ is not a directory$/,
    );
    assert.equal(await served(s), 'from-postgres');
    assert.match((await s.cli(['releases', '-a', APP])).stdout, /^v3 \* /m);
  });

  test("a server on another home boots the current release at start once it has that home's slugs", async () => {
    const previous = slipway as Slipway;
    await previous.stop({ keepHome: true });
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
    fs.cpSync(path.join(previous.home, 'slugs'), path.join(home, 'slugs'), { recursive: true });
    const s = await start(home);
    await waitFor(async () => (await served(s)) === 'from-postgres', 'v3 served from the copied slug', 15_000);
  });
});
