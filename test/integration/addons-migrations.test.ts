// examples/notes-postgres end to end: a real Node.js app built by the nodejs
// buildpack (pg and node-pg-migrate from the npm registry), its database made
// by `addons:create postgresql`, migrated by its postdeploy hook. The first
// deployment migrates and serves rows; a deployment whose migration fails
// ends hook-error while the old release keeps serving, under a request loop,
// on the unchanged schema (the migration's transaction rolled back).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadLoop, ROOT, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'notes';
const HOST = `${APP}.localhost`;

function exampleCopy(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-notes-'));
  fs.cpSync(path.join(ROOT, 'examples', 'notes-postgres'), dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
  return dir;
}

describe('examples/notes-postgres: migrations in the postdeploy hook', { timeout: 300_000 }, () => {
  let slipway: Slipway;
  let home = '';
  const columns = async () => {
    const sql =
      "select string_agg(column_name, ',' order by column_name) from information_schema.columns where table_name = 'notes'";
    const result = await slipway.cli(['run', '-a', APP, '--', `psql "$DATABASE_URL" -Atc "${sql}"`]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };

  before(async () => {
    slipway = await startSlipway({ args: ['--hook-timeout', '60s'] });
    home = slipway.home;
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    const created = await slipway.cli(['addons:create', 'postgresql', '-a', APP]);
    assert.equal(created.code, 0, created.stderr);
  });
  after(async () => {
    await slipway?.stop({ keepHome: true });
    const pidFile = path.join(home, 'addons', 'postgresql', 'cluster', 'data', 'postmaster.pid');
    await waitFor(() => !fs.existsSync(pidFile), 'the cluster to stop', 30_000, 50).catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('the first deployment migrates in its hook, then serves the rows', async () => {
    const deployed = await slipway.cli(['deploy', exampleCopy(), '-a', APP]);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    assert.match(deployed.stdout, /MIGRATION 1733500000000_create-notes \(UP\)/);
    assert.match(deployed.stdout, /Migrations complete!/);
    assert.match(deployed.stdout, /Backed up DATABASE_URL: [\d.]+ [kM]?B in \d+ ms \(backup a1\) before the hook/);
    const res = await routerGet(slipway.routerPort, HOST);
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.release, 'v1');
    assert.deepEqual(body.notes, [{ id: 1, body: 'migrated by the postdeploy hook' }]);
    assert.equal(await columns(), 'body,created_at,id');
  });

  test('a failing migration ends hook-error; the old release keeps serving, with no error, on the unchanged schema', async () => {
    const broken = exampleCopy({
      'migrations/1733600000000_add-tag.js':
        "exports.up = (pgm) => { pgm.addColumn('notes', { tag: 'text' }); pgm.sql('SELECT * FROM nowhere'); };\n",
    });
    const deploying = slipway.cli(['deploy', broken, '-a', APP]);
    const load = await loadLoop({ port: slipway.routerPort, host: HOST, until: deploying, minRequests: 200 });
    const deployed = await deploying;
    assert.equal(deployed.code, 7, deployed.stdout);
    assert.match(`${deployed.stdout}\n${deployed.stderr}`, /relation "nowhere" does not exist/);
    assert.match(deployed.stderr, /hook-error/);
    assert.match(deployed.stdout, /slipway pg:backups:restore a2 --confirm notes/, 'the log names the backup');
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.total} requests failed`);

    const res = await routerGet(slipway.routerPort, HOST);
    assert.equal(JSON.parse(res.body).release, 'v1', 'the old release serves');
    assert.equal(await columns(), 'body,created_at,id', 'the migration was rolled back: no tag column');
    const applied = await slipway.cli([
      'run',
      '-a',
      APP,
      '--',
      'psql "$DATABASE_URL" -Atc "select name from pgmigrations"',
    ]);
    assert.equal(applied.stdout, '1733500000000_create-notes');
  });

  test('a non-transactional migration that half-applied is undone from the automatic backup, by command', async () => {
    const halfway = exampleCopy({
      'migrations/1733600000000_add-tag.js':
        "exports.up = (pgm) => { pgm.noTransaction(); pgm.addColumn('notes', { tag: 'text' }); pgm.sql('SELECT * FROM nowhere'); };\n",
    });
    const deployed = await slipway.cli(['deploy', halfway, '-a', APP]);
    assert.equal(deployed.code, 7, deployed.stdout);
    assert.equal(await columns(), 'body,created_at,id,tag', 'half applied: the column is there');
    const named = /slipway pg:backups:restore (a\d+) --confirm notes/.exec(deployed.stdout);
    assert.ok(named, deployed.stdout);
    const id = named[1] ?? '';

    const unconfirmed = await slipway.cli(['pg:backups:restore', id, '-a', APP]);
    assert.equal(unconfirmed.code, 2);
    const restored = await slipway.cli(['pg:backups:restore', id, '--confirm', APP]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, new RegExp(`Restored DATABASE_URL from backup ${id} in \\d+ ms`));
    assert.equal(await columns(), 'body,created_at,id', 'the schema is the one before the hook');
    await waitFor(
      async () => (await routerGet(slipway.routerPort, HOST)).status === 200,
      'the app to reconnect',
      10_000,
      100,
    );
    assert.deepEqual(JSON.parse((await routerGet(slipway.routerPort, HOST)).body).notes, [
      { id: 1, body: 'migrated by the postdeploy hook' },
    ]);

    const captured = await slipway.cli(['pg:backups:capture', '-a', APP]);
    assert.equal(captured.code, 0, captured.stderr);
    assert.match(captured.stdout, /Backed up DATABASE_URL: .* \(backup b4\)/);
    const list = JSON.parse((await slipway.cli(['pg:backups', '-a', APP, '--json'])).stdout);
    assert.deepEqual(
      list.map((b: { id: string; automatic: boolean }) => [b.id, b.automatic]),
      [
        ['b4', false],
        ['a3', true],
        ['a2', true],
        ['a1', true],
      ],
    );
    const missing = await slipway.cli(['pg:backups:restore', 'a99', '--confirm', APP]);
    assert.equal(missing.code, 4);
    assert.equal(missing.stderr, `error: ${APP} has no backup a99`);
  });

  test('with --restore-on-hook-failure on, the half-applied migration is undone by the deployment itself', async () => {
    const bad = await slipway.cli(['apps:update', '--restore-on-hook-failure', 'maybe', '-a', APP]);
    assert.equal(bad.code, 2);
    const set = await slipway.cli(['apps:update', '--restore-on-hook-failure', 'on', '-a', APP]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await slipway.api('GET', `/api/apps/${APP}`)).json.restore_on_hook_failure, true);

    const halfway = exampleCopy({
      'migrations/1733600000000_add-tag.js':
        "exports.up = (pgm) => { pgm.noTransaction(); pgm.addColumn('notes', { tag: 'text' }); pgm.sql('SELECT * FROM nowhere'); };\n",
    });
    const deployed = await slipway.cli(['deploy', halfway, '-a', APP]);
    assert.equal(deployed.code, 7, deployed.stdout);
    assert.match(deployed.stdout, /Restored DATABASE_URL from backup a5 \(taken before the hook\) in \d+ ms/);
    assert.doesNotMatch(deployed.stdout, /slipway pg:backups:restore/, 'nothing left to restore by hand');
    assert.equal(await columns(), 'body,created_at,id', 'restored before the deployment ended');
    await waitFor(
      async () => (await routerGet(slipway.routerPort, HOST)).status === 200,
      'the app to reconnect',
      10_000,
      100,
    );
    assert.equal(JSON.parse((await routerGet(slipway.routerPort, HOST)).body).release, 'v1');
  });
});
