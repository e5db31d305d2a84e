// Volumes through the real CLI and API with the sandbox runtime, then the
// docker and process runtimes (docs/volumes.md): one volume seen by the postdeploy hook, the web and a
// one-off run; kept across a redeploy and a server restart; bounded by its
// size (ENOSPC in the container, the host untouched); hostile paths refused;
// volumes:remove and apps:destroy delete the data. Needs root, loop devices
// and the sandbox; skipped (with the reason) otherwise.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { dockerSkipReason } from '../helpers/test-docker.ts';
import { openTestSandbox } from '../helpers/test-sandbox.ts';

const opened = await openTestSandbox();
const skip =
  'missing' in opened
    ? `sandbox unavailable: ${opened.missing}`
    : opened.sandbox.layersMissing !== null && `layer images unavailable: ${opened.sandbox.layersMissing}`;

const APP = 'vols';
const SERVER_JS = `
const fs = require('node:fs');
const http = require('node:http');
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const file = url.searchParams.get('file') ?? '';
  try {
    if (url.pathname === '/read') return res.end(fs.readFileSync(file, 'utf8'));
    if (url.pathname === '/write') {
      fs.writeFileSync(file, Buffer.alloc(Number(url.searchParams.get('mb')) * 1024 * 1024, 1));
      return res.end('written\\n');
    }
  } catch (err) {
    res.statusCode = 500;
    return res.end(err.code + '\\n');
  }
  res.end(process.env.CONTAINER + '\\n');
}).listen(Number(process.env.PORT));
`;
// The hook appends to a file on the volume under /app and writes one on the volume at /data.
const PROCFILE = [
  'web: node server.js',
  'postdeploy: echo "hook $CONTAINER" >> /app/data/hook.log && echo from-hook > /data/note',
  '',
].join('\n');

function appDir(procfile = PROCFILE): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-volumes-app-'));
  fs.writeFileSync(path.join(dir, 'Procfile'), procfile);
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER_JS);
  // The slug has a data/ of its own: the volume covers it.
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data', 'hook.log'), '');
  return dir;
}

function volumeFiles(home: string): string[] {
  return fs.readdirSync(path.join(home, 'volumes')).sort();
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${dir}/`));
}

describe('volumes (sandbox runtime)', { skip }, () => {
  let slipway: Slipway;
  let home: string;
  const read = async (file: string) =>
    routerGet(slipway.routerPort, `${APP}.localhost`, `/read?file=${encodeURIComponent(file)}`);

  before(async () => {
    slipway = await startSlipway({ args: ['--runtime', 'sandbox'] });
    home = slipway.home;
  });
  after(async () => {
    await slipway?.stop();
  });

  test('hostile or malformed paths and sizes are refused, before anything is stored', async () => {
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    for (const bad of [
      'data',
      'app/data',
      '/app/../etc',
      '/app/./x',
      '/app//x',
      '/',
      '/app',
      '/app/',
      '/etc/x',
      '/proc',
      '/usr/lib',
      '/tmp/x',
      '/dev/shm',
      '/data;rm',
      '/app/da ta',
    ]) {
      const result = await slipway.cli(['volumes:add', bad, '-a', APP]);
      assert.equal(result.code, 6, `${bad}: ${result.stderr}`);
      assert.match(result.stderr, /invalid volume path/);
      assert.ok(result.stderr.endsWith('\n') || !result.stderr.includes('\n    at '), 'no stack trace');
    }
    const api = await slipway.api('POST', `/api/apps/${APP}/volumes`, { path: '/app/../../etc' });
    assert.equal(api.status, 422);
    assert.equal(api.json.error.code, 'volume.invalid_path');
    for (const size of ['1t', '10m', 'lots', '-1g']) {
      const result = await slipway.cli(['volumes:add', '/app/data', '--size', size, '-a', APP]);
      assert.equal(result.code, 6, `${size}: ${result.stderr}`);
      assert.match(result.stderr, /invalid volume size/);
    }
    assert.deepEqual((await slipway.api('GET', `/api/apps/${APP}/volumes`)).json, []);
  });

  test('a volume is shared by the hook, the web and a one-off run', async () => {
    const added = await slipway.cli(['volumes:add', '/app/data', '--size', '64m', '-a', APP]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Added volume \/app\/data \(64\.0 MiB\).*no release yet/);
    assert.equal((await slipway.cli(['volumes:add', '/data', '-a', APP])).code, 0);
    const nested = await slipway.cli(['volumes:add', '/app/data/inner', '-a', APP]);
    assert.equal(nested.code, 5);
    assert.match(nested.stderr, /overlaps/);
    const listed = await slipway.cli(['volumes', '-a', APP]);
    assert.match(listed.stdout, /\/app\/data\s+64\.0 MiB/);
    assert.match(listed.stdout, /\/data\s+1\.00 GiB/);

    const deployed = await slipway.cli(['deploy', appDir(), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    assert.deepEqual(await read('/app/data/hook.log'), { status: 200, body: 'hook postdeploy-1\n' });
    assert.deepEqual(await read('/data/note'), { status: 200, body: 'from-hook\n' });
    const run = await slipway.cli(['run', '-a', APP, '--', 'cat /data/note /app/data/hook.log']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /from-hook\nhook postdeploy-1/);
  });

  test('writing past its size fails with ENOSPC in the container only', async () => {
    const big = await routerGet(slipway.routerPort, `${APP}.localhost`, '/write?file=/app/data/big&mb=80');
    assert.deepEqual(big, { status: 500, body: 'ENOSPC\n' });
    // The app's own writable layer and the host are not full: the same write elsewhere succeeds.
    const elsewhere = await routerGet(slipway.routerPort, `${APP}.localhost`, '/write?file=/app/other&mb=8');
    assert.deepEqual(elsewhere, { status: 200, body: 'written\n' });
    const image = volumeFiles(home).find((name) => name.endsWith('.img'));
    assert.ok(image);
    const sizes = volumeFiles(home)
      .filter((name) => name.endsWith('.img'))
      .map((name) => fs.statSync(path.join(home, 'volumes', name)).size)
      .sort((a, b) => a - b);
    assert.deepEqual(sizes, [64 * 1024 * 1024, 1024 * 1024 * 1024]);
    await routerGet(slipway.routerPort, `${APP}.localhost`, '/write?file=/app/data/big&mb=0');
  });

  test('the data survives a redeploy (the hook runs again on it), a server restart and a SIGKILL of the server', async () => {
    const redeployed = await slipway.cli(['redeploy', '-a', APP]);
    assert.equal(redeployed.code, 0, redeployed.stdout + redeployed.stderr);
    assert.equal((await read('/app/data/hook.log')).body, 'hook postdeploy-1\nhook postdeploy-1\n');
    await slipway.stop({ keepHome: true });
    slipway = await startSlipway({ home, args: ['--runtime', 'sandbox'] });
    assert.equal((await read('/app/data/hook.log')).body, 'hook postdeploy-1\nhook postdeploy-1\n');
    assert.equal((await read('/data/note')).body, 'from-hook\n');
    // A SIGKILL leaves the volumes mounted on the host: the next start uses those mounts as they are.
    await slipway.kill();
    slipway = await startSlipway({ home, args: ['--runtime', 'sandbox'] });
    assert.equal((await read('/app/data/hook.log')).body, 'hook postdeploy-1\nhook postdeploy-1\n');
    assert.equal((await read('/data/note')).body, 'from-hook\n');
    assert.equal(mountsUnder(path.join(home, 'volumes')).length, 2, 'each volume mounted once');
  });

  test('adding a volume to a running app restarts it without the hook', async () => {
    const added = await slipway.cli(['volumes:add', '/srv/cache', '--size', '32m', '-a', APP]);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.match(added.stdout, /restarting vols .*\n[\s\S]*Done: v\d+ is live/);
    const written = await routerGet(slipway.routerPort, `${APP}.localhost`, '/write?file=/srv/cache/x&mb=1');
    assert.deepEqual(written, { status: 200, body: 'written\n' });
    // No hook ran: the log has the two lines of the two hooks so far.
    assert.equal((await read('/app/data/hook.log')).body, 'hook postdeploy-1\nhook postdeploy-1\n');
  });

  test('volumes:remove needs --confirm, then deletes the data; apps:destroy deletes the rest', async () => {
    const unconfirmed = await slipway.cli(['volumes:remove', '/data', '-a', APP]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /--confirm vols/);
    const missing = await slipway.cli(['volumes:remove', '/nowhere', '--confirm', APP]);
    assert.equal(missing.code, 4);
    const before = volumeFiles(home).length;
    const removed = await slipway.cli(['volumes:remove', '/data', '--confirm', APP]);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.equal(volumeFiles(home).length, before - 2, 'its image and its mount point are gone');
    assert.equal((await read('/data/note')).status, 500);
    assert.equal((await read('/app/data/hook.log')).status, 200);

    assert.equal((await slipway.cli(['apps:destroy', '-a', APP, '--confirm', APP])).code, 0);
    assert.deepEqual(volumeFiles(home), []);
    assert.deepEqual(mountsUnder(path.join(home, 'volumes')), []);
  });
});

// The docker runtime binds the same host mounts (the sandbox's images) into its containers.
describe('volumes (docker runtime: the bounded image bound into the container)', {
  skip: (await dockerSkipReason()) ?? skip,
}, () => {
  let slipway: Slipway;
  before(async () => {
    slipway = await startSlipway({ args: ['--runtime', 'docker'] });
  });
  after(async () => {
    await slipway?.stop();
  });

  test('the hook and the web share it as the app user, bounded by its size; volumes:remove deletes it', async () => {
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    assert.equal((await slipway.cli(['volumes:add', '/app/data', '--size', '32m', '-a', APP])).code, 0);
    const procfile = 'web: node server.js\npostdeploy: echo "hook $CONTAINER" >> /app/data/hook.log\n';
    const deployed = await slipway.cli(['deploy', appDir(procfile), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const get = (query: string) => routerGet(slipway.routerPort, `${APP}.localhost`, query);
    assert.deepEqual(await get('/read?file=/app/data/hook.log'), { status: 200, body: 'hook postdeploy-1\n' });
    assert.deepEqual(await get('/write?file=/app/data/big&mb=40'), { status: 500, body: 'ENOSPC\n' });
    assert.deepEqual(await get('/write?file=/app/other&mb=8'), { status: 200, body: 'written\n' });
    const run = await slipway.cli(['run', '-a', APP, '--', 'stat -c %u /app/data; id -u']);
    const [owner, uid] = run.stdout.trim().split('\n');
    assert.ok(uid !== '0' && owner === uid, run.stdout + run.stderr);
    const volumes = path.join(slipway.home, 'volumes');
    assert.equal(mountsUnder(volumes).length, 1, 'mounted once, on the host');
    assert.equal((await slipway.cli(['redeploy', '-a', APP])).code, 0);
    assert.equal((await get('/read?file=/app/data/hook.log')).body, 'hook postdeploy-1\nhook postdeploy-1\n');

    const removed = await slipway.cli(['volumes:remove', '/app/data', '--confirm', APP]);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.deepEqual(volumeFiles(slipway.home), []);
    assert.deepEqual(mountsUnder(volumes), []);
    // The slug's own data/ shows again.
    assert.deepEqual(await get('/read?file=/app/data/hook.log'), { status: 200, body: '' });
  });
});

describe('volumes (process runtime: a host directory under /app)', () => {
  let slipway: Slipway;
  before(async () => {
    slipway = await startSlipway({ args: ['--runtime', 'process'] });
  });
  after(async () => {
    await slipway?.stop();
  });

  test('the hook writes into the volume, the web reads it; apps:destroy deletes it', async () => {
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    assert.equal((await slipway.cli(['volumes:add', '/app/data', '-a', APP])).code, 0);
    // The process runtime has no /app of its own: the app's files are its working directory.
    const relative = 'web: node server.js\npostdeploy: echo "hook $CONTAINER" >> data/hook.log\n';
    const deployed = await slipway.cli(['deploy', appDir(relative), '-a', APP]);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const read = await routerGet(slipway.routerPort, `${APP}.localhost`, '/read?file=data/hook.log');
    assert.deepEqual(read, { status: 200, body: 'hook postdeploy-1\n' });
    const [volume] = (await slipway.api('GET', `/api/apps/${APP}/volumes`)).json as { id: string }[];
    assert.ok(volume);
    const onHost = path.join(slipway.home, 'volumes', volume.id);
    assert.equal(fs.readFileSync(path.join(onHost, 'hook.log'), 'utf8'), 'hook postdeploy-1\n');

    // A path outside /app: the restart's new containers cannot start; the app keeps running as it was.
    const refused = await slipway.cli(['volumes:add', '/data', '-a', APP]);
    assert.equal(refused.code, 7);
    assert.match(refused.stdout + refused.stderr, /volumes under \/app only, not at \/data/);
    assert.equal((await routerGet(slipway.routerPort, `${APP}.localhost`, '/read?file=data/hook.log')).status, 200);
    assert.equal((await slipway.cli(['volumes:remove', '/data', '--confirm', APP])).code, 0);

    assert.equal((await slipway.cli(['apps:destroy', '-a', APP, '--confirm', APP])).code, 0);
    assert.equal(fs.existsSync(onHost), false);
  });
});
