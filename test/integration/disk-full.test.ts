// A full disk, end to end, on a small file system the test mounts as the
// server's home: an app that fills its disk gets ENOSPC in its own container
// while the server and the other apps carry on; under the server's reserve,
// deployments, config changes and pushes are refused with a clear 507 (exit
// 9) and nothing of them is written; an unpacking that fills the disk ends
// the deployment `build-error` "disk full" within seconds. Needs root, loop
// devices and the sandbox; skipped (with the reason) otherwise.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { c as createTar } from 'tar';
import { commitAll, gitUserEnv, runGit } from '../helpers/git-fixture.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';
import { mountSmallFs, type SmallFs, smallFsUnavailable } from '../helpers/small-fs.ts';
import { openTestSandbox } from '../helpers/test-sandbox.ts';
import { waitFor } from '../helpers/wait.ts';

const opened = await openTestSandbox(); // closed after the file's tests
const skip =
  smallFsUnavailable() ||
  ('missing' in opened
    ? `sandbox unavailable: ${opened.missing}`
    : opened.sandbox.layersMissing !== null && `layer images unavailable: ${opened.sandbox.layersMissing}`);

const MiB = 1024 * 1024;
const RESERVE = 256 * MiB;

/**
 * Everything a user can read back about the apps: must not change when a request is refused.
 * Taken once every deployment of theirs has finished all its steps (a retirement goes on after
 * the deployment's success, and records its end).
 */
async function storeSnapshot(slipway: Slipway, apps: string[]) {
  for (const app of apps) {
    await waitFor(
      async () =>
        (
          (await slipway.api('GET', `/api/apps/${app}/deployments`)).json as { steps: { finished_at: unknown }[] }[]
        ).every((d) => d.steps.every((step) => step.finished_at !== null)),
      `${app}'s deployments to finish every step`,
      30_000,
      50,
    );
  }
  const snapshot: Record<string, unknown> = {};
  for (const app of apps) {
    snapshot[app] = {
      app: (await slipway.api('GET', `/api/apps/${app}`)).json,
      env: (await slipway.api('GET', `/api/apps/${app}/env`)).json,
      releases: (await slipway.api('GET', `/api/apps/${app}/releases`)).json,
      deployments: (await slipway.api('GET', `/api/apps/${app}/deployments`)).json,
    };
  }
  snapshot.apps = (await slipway.api('GET', '/api/apps')).json;
  return snapshot;
}

/** A .tar.gz of an app (Procfile + server) plus `count` extra files of `size` random bytes. */
async function appArchive(dir: string, count: number, size: number): Promise<Buffer> {
  const src = fs.mkdtempSync(path.join(dir, 'src-'));
  fs.cpSync(fixtureCopy('run-files'), src, { recursive: true });
  fs.mkdirSync(path.join(src, 'data'));
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(src, 'data', `f${i}`), randomBytes(size));
  const file = path.join(dir, `app-${count}x${size}.tar.gz`);
  await createTar({ gzip: true, cwd: src, file, portable: true }, fs.readdirSync(src));
  return fs.readFileSync(file);
}

async function upload(slipway: Slipway, app: string, archive: Buffer) {
  const res = await fetch(`${slipway.apiUrl}/api/apps/${app}/deployments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' },
    body: archive,
  });
  return { status: res.status, json: (await res.json()) as { id?: string; error?: { code: string; message: string } } };
}

async function finalDeployment(slipway: Slipway, app: string, id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await slipway.api('GET', `/api/apps/${app}/deployments/${id}`);
    if (json.finished_at) return json;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${json.status} at ${json.step}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a full disk', { skip }, () => {
  let small: SmallFs;
  let slipway: Slipway;
  let work: string;
  let home: string;

  before(async () => {
    small = await mountSmallFs(3 * 1024 * MiB);
    home = path.join(small.dir, 'home');
    fs.mkdirSync(home, { mode: 0o700 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-disk-full-'));
    slipway = await startSlipway({
      home,
      args: ['--runtime', 'sandbox'],
      env: { SLIPWAY_DISK_RESERVE: String(RESERVE) },
    });
    for (const command of [
      ['apps:create', 'filler'],
      ['apps:update', '--size', 'S', '-a', 'filler'],
      ['deploy', fixtureCopy('run-files'), '-a', 'filler'],
      ['env:set', 'GREETING=hello', '-a', 'filler'],
    ]) {
      const result = await slipway.cli(command);
      assert.equal(result.code, 0, `${command.join(' ')}: ${result.stdout}\n${result.stderr}`);
    }
  });
  after(async () => {
    await slipway?.stop({ keepHome: true });
    await small?.unmount();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('an app that fills its disk gets ENOSPC in its container; the server and other apps carry on', async () => {
    const before = await storeSnapshot(slipway, ['filler']);
    let healthChecks = 0;
    let healthy = true;
    let filling = true;
    const health = (async () => {
      while (filling) {
        const res = await fetch(`${slipway.apiUrl}/healthz`).catch(() => null);
        healthy &&= res?.status === 200;
        healthChecks++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // Size S: a 1 GiB layer, on a 3 GiB home.
    const run = await slipway.cli([
      'run',
      '-a',
      'filler',
      '--',
      'dd if=/dev/zero of=/app/big bs=1M count=1500 2>&1; echo "dd exit $?"; df -k /app | tail -1',
    ]);
    filling = false;
    await health;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /No space left on device/);
    assert.match(run.stdout, /dd exit 1/);
    assert.ok(healthy && healthChecks > 0, `the server stopped answering /healthz (${healthChecks} checks)`);
    // The run's layer, and the space it took, went with it.
    await waitFor(() => small.free() > 1.5 * 1024 * MiB, 'the run’s layer to give its space back', 10_000);

    // The web container of the same app, and another app's deployment, are fine.
    assert.match((await routerGet(slipway.routerPort, 'filler.localhost')).body, /^run-files web-1/);
    assert.equal((await slipway.cli(['apps:create', 'other'])).code, 0);
    const deployed = await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', 'other']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    assert.match((await routerGet(slipway.routerPort, 'other.localhost')).body, /^run-files web-1/);
    // Nothing of filler was lost: apps, releases, config, deployments.
    assert.deepEqual((await storeSnapshot(slipway, ['filler'])).filler, before.filler);
    assert.equal((await slipway.api('GET', '/api/apps/filler/env')).json.GREETING, 'hello');
  });

  test('under the reserve, deployments, config changes and pushes are refused with 507; nothing is written', async () => {
    const gitDir = fixtureCopy('run-files');
    await commitAll(gitDir, 'a version to push');
    const gitEnv = gitUserEnv(slipway);
    assert.equal((await slipway.cli(['git:remote', '-a', 'other'], { cwd: gitDir })).code, 0);
    const archive = await appArchive(work, 1, 1024);

    await small.leaveFree(RESERVE - 64 * MiB);
    try {
      const before = await storeSnapshot(slipway, ['filler', 'other']);
      const refused = (result: { status: number; json: { error?: { code: string; message: string } } }) => {
        assert.equal(result.status, 507, JSON.stringify(result.json));
        assert.equal(result.json.error?.code, 'disk.reserve_reached');
        assert.match(result.json.error?.message ?? '', /disk is nearly full/);
      };
      refused(await upload(slipway, 'other', archive));
      refused(
        await slipway.api('POST', '/api/apps/other/deployments', { source_url: 'http://127.0.0.1:9/app.tar.gz' }),
      );
      refused(await slipway.api('PATCH', '/api/apps/filler/env', { GREETING: 'refused' }));
      refused(await slipway.api('POST', '/api/apps/filler/redeploy'));
      refused(await slipway.api('POST', '/api/apps/filler/rollback', { version: 'v1' }));

      for (const command of [
        ['deploy', fixtureCopy('run-files'), '-a', 'other'],
        ['deploy', 'http://127.0.0.1:9/app.tar.gz', '-a', 'other'],
        ['env:set', 'GREETING=refused', '-a', 'filler'],
      ]) {
        const result = await slipway.cli(command);
        assert.equal(result.code, 9, `${command.join(' ')}: ${result.stdout}\n${result.stderr}`);
        assert.match(result.stderr, /disk is nearly full/);
      }

      const push = await runGit(gitDir, ['push', 'slipway', 'main'], gitEnv);
      assert.notEqual(push.code, 0, push.output);
      assert.match(push.output, /^remote: .*disk is nearly full/m);
      assert.doesNotMatch(push.output, /internal error|RPC failed/);

      assert.deepEqual(await storeSnapshot(slipway, ['filler', 'other']), before);
      assert.equal((await runGit(gitDir, ['ls-remote', 'slipway'], gitEnv)).output.trim(), '', 'the push was stored');
    } finally {
      await small.leaveFree(1024 * MiB);
    }
    // Once there is room again, the same push deploys.
    const push = await runGit(gitDir, ['push', 'slipway', 'main'], gitEnv);
    assert.equal(push.code, 0, push.output);
  });

  test('an unpacking that fills the disk ends build-error "disk full" within seconds, its directory removed', async () => {
    // The reserve only refuses new work: this source passes it (its bytes are few), but its files'
    // blocks do not fit. A server without a reserve shows the unpacking itself meeting a full disk.
    await slipway.stop({ keepHome: true });
    slipway = await startSlipway({ home, args: ['--runtime', 'sandbox'], env: { SLIPWAY_DISK_RESERVE: '0' } });
    const manySmall = await appArchive(work, 8000, 100); // ~0.8 MB of content, ~32 MB of 4 KiB blocks
    const oneBig = await appArchive(work, 3, 10 * MiB);
    const builds = path.join(home, 'builds');
    const before = (await slipway.api('GET', '/api/apps/other/releases')).json;

    try {
      for (const [archive, free, why] of [
        [manySmall, 20 * MiB, /disk full: the server had no room left for the unpacked source/],
        // Room for the upload, not for what it unpacks to: refused before a byte of it is written.
        [
          oneBig,
          40 * MiB,
          /disk full: unpacking the source does not fit on the server's disk \(.* free, 30\.0 MiB needed\)/,
        ],
      ] as const) {
        await small.leaveFree(free);
        const started = Date.now();
        const created = await upload(slipway, 'other', archive);
        assert.equal(created.status, 201, JSON.stringify(created.json));
        const id = created.json.id ?? '';
        const final = await finalDeployment(slipway, 'other', id);
        const took = Date.now() - started;
        assert.equal(final.status, 'build-error', JSON.stringify(final));
        assert.equal(final.step, 'fetch');
        assert.equal(final.error.code, 'disk.full', JSON.stringify(final.error));
        assert.match(final.error.message, why);
        assert.ok(took < 15_000, `the deployment took ${took} ms to end`);
        // Its build directory goes before it ends; its archive right after.
        await waitFor(
          () => fs.readdirSync(builds).every((name) => !name.startsWith(id)),
          'its build directory and archive removed',
          2000,
        );
        const logs = await slipway.cli(['deployments:logs', id, '-a', 'other']);
        assert.match(logs.stdout, /Deployment failed \(build-error\) at step fetch: disk full/);
      }
      // ext4 hands the blocks of removed files back when its journal commits: a moment later.
      await waitFor(() => small.free() > 15 * MiB, 'the failed deployments to give their space back', 10_000);
      assert.deepEqual((await slipway.api('GET', '/api/apps/other/releases')).json, before);
      assert.match((await routerGet(slipway.routerPort, 'other.localhost')).body, /^run-files web-1/);
    } finally {
      await small.leaveFree(1024 * MiB);
    }
  });
});
