// The postgresql add-on on the embedded cluster, through the real CLI and API
// against real PostgreSQL: a database and role per app, DATABASE_URL set
// through a config release and usable from the app's own containers, one
// app's role kept out of every other database, clear errors, destroy
// removing everything, and the cluster outliving a SIGKILL of the server.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const A = 'pg-alpha';
const B = 'pg-beta';

/** The postmaster's pid from its pid file, if one is alive. */
function postmasterPid(home: string): number | null {
  const file = path.join(home, 'addons', 'postgresql', 'cluster', 'data', 'postmaster.pid');
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n', 1)[0]);
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres' ? pid : null;
  } catch {
    return null;
  }
}

describe('postgresql add-on (embedded cluster)', { timeout: 300_000 }, () => {
  let slipway: Slipway;
  let home = '';

  /** psql in a one-off container of `app`; `url` is a shell expression (e.g. "$DATABASE_URL"). */
  const psql = (app: string, url: string, sql: string) =>
    slipway.cli(['run', '-a', app, '--', `psql "${url}" -v ON_ERROR_STOP=1 -Atc "${sql}"`]);
  const envOf = async (app: string) =>
    (await slipway.api('GET', `/api/apps/${app}/env`)).json as Record<string, string>;

  before(async () => {
    slipway = await startSlipway();
    home = slipway.home;
    for (const app of [A, B]) assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    const deployed = await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', A]);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
  });
  after(async () => {
    await slipway?.stop({ keepHome: true });
    const left = postmasterPid(home);
    if (left !== null) process.kill(left, 'SIGINT');
    await waitFor(() => postmasterPid(home) === null, 'the cluster to stop', 30_000, 50).catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('addons:create sets DATABASE_URL through a config release; the app’s container connects with it', async () => {
    const created = await slipway.cli(['addons:create', 'postgresql', '-a', A]);
    assert.equal(created.code, 0, `${created.stdout}\n${created.stderr}\n${slipway.serverOutput.join('\n')}`);
    assert.match(created.stdout, /Created postgresql add-on DATABASE in \d+ ms: set DATABASE_URL; restarting pg-alpha/);
    assert.match(created.stdout, /Done: v2 is live/);
    const url = (await envOf(A)).DATABASE_URL ?? '';
    assert.match(
      url,
      /^postgres:\/\/sw_pg_alpha_database_[0-9a-f]{6}:[\w-]{32}@[\d.]+:\d+\/sw_pg_alpha_database_[0-9a-f]{6}$/,
    );

    const who = await psql(A, '$DATABASE_URL', 'select current_user = current_database(), current_database()');
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, `t|${new URL(url).pathname.slice(1)}`);
    const written = await psql(A, '$DATABASE_URL', 'create table notes(body text); insert into notes values (1)');
    assert.equal(written.code, 0, written.stderr);

    const listed = await slipway.cli(['addons', '-a', A, '--json']);
    const [addon] = JSON.parse(listed.stdout);
    assert.deepEqual([addon.name, addon.provider, addon.config_var], ['DATABASE', 'postgresql', 'DATABASE_URL']);
    const info = await slipway.api('GET', `/api/apps/${A}/addons/DATABASE`);
    assert.equal(info.status, 200);
    assert.equal(info.json.connection_limit, 20);
    assert.ok(info.json.size_bytes > 0);
  });

  test('pg:psql runs psql on the database in a container of the app; SQL is passed as written', async () => {
    const url = new URL((await envOf(A)).DATABASE_URL ?? '');
    const ran = await slipway.cli(['pg:psql', '-a', A, '-c', "select current_database(), 'it''s $HOME `x`' as said"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(ran.stdout.includes(url.pathname.slice(1)), ran.stdout);
    assert.ok(ran.stdout.includes("it's $HOME `x`"), ran.stdout);
    const failed = await slipway.cli(['pg:psql', '-a', A, '-c', 'select nope']);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /column "nope" does not exist/);
    const missing = await slipway.cli(['pg:psql', 'NOPE', '-a', A]);
    assert.equal(missing.code, 4);
    assert.equal(missing.stderr, `error: ${A} has no add-on named NOPE`);
  });

  test('pg:info shows version, size and the connections in use of the limit; clear errors', async () => {
    const idle = await slipway.cli(['pg:info', '-a', A]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stdout, /^=== DATABASE_URL \(DATABASE\)\nVersion: +PostgreSQL 1\d\.\d+/);
    assert.match(idle.stdout, /\nSize: +\d+\.\d MiB\n/);
    assert.match(idle.stdout, /\nConnections: 0\/20\n/);
    // A client of the app holds a connection: pg:info counts it.
    const held = await slipway.cli([
      'run',
      '--detached',
      '-a',
      A,
      '--',
      'psql "$DATABASE_URL" -c "select pg_sleep(20)"',
    ]);
    assert.equal(held.code, 0, held.stderr);
    const connections = async () => {
      const json = JSON.parse((await slipway.cli(['pg:info', 'database', '-a', A, '--json'])).stdout);
      return json[0].connections as number;
    };
    await waitFor(async () => (await connections()) === 1, 'pg:info to count the held connection', 15_000, 100);
    const api = await slipway.api('GET', `/api/apps/${A}/databases?name=DATABASE`);
    assert.equal(api.status, 200);
    assert.deepEqual(
      [api.json.length, api.json[0].config_var, api.json[0].connection_limit, typeof api.json[0].size_bytes],
      [1, 'DATABASE_URL', 20, 'number'],
    );
    const none = await slipway.cli(['pg:info', '-a', B]);
    assert.equal(none.code, 4);
    assert.match(
      none.stderr,
      /pg-beta has no PostgreSQL database: add one with `slipway addons:create postgresql`\n?$/,
    );
    const unknown = await slipway.cli(['pg:info', 'NOPE', '-a', A]);
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stderr, `error: ${A} has no add-on named NOPE`);
  });

  test('slipway deploy provisions a manifest’s add-ons before an app’s first deployment, whose hook uses them; later ones are named, not made', async () => {
    const C = 'pg-gamma';
    assert.equal((await slipway.cli(['apps:create', C])).code, 0);
    const source = fixtureCopy('run-files');
    const seed = `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c 'create table seeded(x int); insert into seeded values (7)'`;
    fs.writeFileSync(
      path.join(source, 'app.json'),
      JSON.stringify({ addons: ['heroku-postgresql:mini'], scripts: { postdeploy: seed } }),
    );
    const first = await slipway.cli(['deploy', source, '-a', C]);
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(
      first.stdout,
      /^-----> Provisioned postgresql add-on DATABASE \(DATABASE_URL\) for app\.json's addons, in \d+ ms, before pg-gamma's first deployment$/m,
    );
    const seeded = await psql(C, '$DATABASE_URL', 'select x from seeded');
    assert.deepEqual([seeded.code, seeded.stdout], [0, '7']);

    // The app runs now: a manifest's new add-on is named with its command, not made.
    fs.writeFileSync(
      path.join(source, 'app.json'),
      JSON.stringify({ addons: [{ plan: 'postgresql', as: 'ANALYTICS' }, 'postgresql'] }),
    );
    const second = await slipway.cli(['deploy', source, '-a', C]);
    assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
    assert.match(
      second.stdout,
      /^-----> app\.json lists add-on postgresql \(ANALYTICS_URL\), which pg-gamma lacks: NOT provisioned, .* To add it: slipway addons:create postgresql --as ANALYTICS -a pg-gamma$/m,
    );
    assert.doesNotMatch(second.stdout, /DATABASE_URL\), which/);
    assert.equal((await envOf(C)).ANALYTICS_URL, undefined);
    const listed = JSON.parse((await slipway.cli(['addons', '-a', C, '--json'])).stdout);
    assert.deepEqual(
      listed.map((a: { name: string }) => a.name),
      ['DATABASE'],
    );
  });

  test('provisioning on a running cluster takes under 2 s; an app without a release gets it at its first deployment', async () => {
    const reply = await slipway.api('POST', `/api/apps/${B}/addons`, { provider: 'postgresql' });
    assert.equal(reply.status, 201, JSON.stringify(reply.json));
    assert.equal(reply.json.deployment, null, 'nothing to restart');
    assert.ok(reply.json.ms < 2000, `provisioned in ${reply.json.ms} ms`);
    const deployed = await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', B]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const reached = await psql(B, '$DATABASE_URL', 'select 1');
    assert.equal(reached.code, 0, reached.stderr);
  });

  test("one app's role reaches neither another app's database nor postgres nor template1", async () => {
    const aUrl = new URL((await envOf(A)).DATABASE_URL ?? '');
    const bDb = new URL((await envOf(B)).DATABASE_URL ?? '').pathname.slice(1);
    for (const db of [bDb, 'postgres', 'template1']) {
      const other = new URL(aUrl);
      other.pathname = `/${db}`;
      const tried = await psql(A, other.href, 'select 1');
      assert.notEqual(tried.code, 0, `A's role connected to ${db}`);
      assert.match(tried.stderr, /no pg_hba.conf entry|permission denied/);
    }
    // Even allowed past the connection rules, the database refuses the role (REVOKE ... FROM PUBLIC).
    const bUrl = new URL((await envOf(B)).DATABASE_URL ?? '');
    const grants = await psql(B, bUrl.href, `select has_database_privilege('${aUrl.username}', '${bDb}', 'CONNECT')`);
    assert.equal(grants.stdout, 'f', grants.stderr);
  });

  test('errors are clear: unknown provider, taken name, taken config var, bad name, no such add-on', async () => {
    const unknown = await slipway.cli(['addons:create', 'mysql', '-a', A]);
    assert.equal(unknown.code, 6);
    assert.equal(unknown.stderr, 'error: unknown add-on "mysql": available are postgresql, redis');
    const again = await slipway.api('POST', `/api/apps/${A}/addons`, { provider: 'postgresql', as: 'database' });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'addon.already_exists');
    assert.equal((await slipway.cli(['env:set', 'CACHE_URL=redis://x', '-a', B])).code, 0);
    const varTaken = await slipway.cli(['addons:create', 'postgresql', '--as', 'CACHE', '-a', B]);
    assert.equal(varTaken.code, 5);
    assert.match(varTaken.stderr, /already has a config var CACHE_URL: unset it first/);
    for (const bad of ['9LIVES', 'MY-DB', 'A'.repeat(41), "x'; drop"]) {
      const reply = await slipway.api('POST', `/api/apps/${A}/addons`, { provider: 'postgresql', as: bad });
      assert.equal(reply.json.error?.code, 'addon.invalid_name', bad);
    }
    const ghost = await slipway.api('POST', '/api/apps/no-such-app/addons', { provider: 'postgresql' });
    assert.equal(ghost.status, 404);
    const missing = await slipway.cli(['addons:info', 'NOPE', '-a', A]);
    assert.equal(missing.code, 4);
    assert.equal(missing.stderr, `error: ${A} has no add-on named NOPE`);
    const unconfirmed = await slipway.cli(['addons:destroy', 'DATABASE', '-a', A]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /run again with --confirm pg-alpha/);
    assert.equal((await slipway.api('GET', `/api/apps/${A}/addons/DATABASE`)).status, 200, 'still there');
  });

  test('--as NAME attaches a second database as NAME_URL; addons:destroy removes database, role and config var', async () => {
    const second = await slipway.cli(['addons:create', 'postgresql', '--as', 'analytics', '-a', A]);
    assert.equal(second.code, 0, second.stderr);
    const url = (await envOf(A)).ANALYTICS_URL ?? '';
    assert.match(url, /sw_pg_alpha_analytics_/);
    assert.equal((await psql(A, '$ANALYTICS_URL', 'select 1')).code, 0);

    const destroyed = await slipway.cli(['addons:destroy', 'ANALYTICS', '--confirm', A]);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.match(destroyed.stdout, /Destroyed ANALYTICS and its data: unset ANALYTICS_URL/);
    assert.equal((await envOf(A)).ANALYTICS_URL, undefined);
    assert.equal((await slipway.api('GET', `/api/apps/${A}/addons/ANALYTICS`)).status, 404);
    const gone = await psql(A, url, 'select 1');
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /password authentication failed|does not exist/, 'the role is gone');
    assert.ok((await envOf(A)).DATABASE_URL, 'the other add-on stays');
  });

  test('the cluster outlives a SIGKILL of the server: the next start adopts it, no data lost; a clean stop stops it', async () => {
    const pid = postmasterPid(home);
    assert.ok(pid !== null, 'the cluster runs');
    await slipway.kill();
    assert.equal(postmasterPid(home), pid, 'the cluster still runs after the server died');
    slipway = await startSlipway({ home });
    const read = await psql(A, '$DATABASE_URL', 'select body from notes');
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, '1');
    assert.equal(postmasterPid(home), pid, 'adopted, not restarted');

    // Dies under the server: started again.
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => (await psql(A, '$DATABASE_URL', 'select count(*) from notes')).stdout === '1',
      'the cluster to come back',
      30_000,
      500,
    );
    assert.notEqual(postmasterPid(home), pid);

    await slipway.stop({ keepHome: true });
    assert.equal(postmasterPid(home), null, 'stopped with the server');
    slipway = await startSlipway({ home });
    assert.equal((await psql(A, '$DATABASE_URL', 'select body from notes')).stdout, '1', 'started with the server');
  });

  test('apps:destroy removes the app’s databases', async () => {
    const url = (await envOf(B)).DATABASE_URL ?? '';
    assert.equal((await slipway.cli(['apps:destroy', '--confirm', B])).code, 0);
    const tried = await psql(A, url, 'select 1');
    assert.notEqual(tried.code, 0);
    assert.match(tried.stderr, /password authentication failed|does not exist/);
  });
});
