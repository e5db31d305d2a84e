// The slug store moves a build in, makes it unwritable but by its owner (the app), and removes it again.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createSlugStore } from '../../src/build/slug-store.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-slugs-'));
after(async () => {
  // Slugs left read-only by a failed assertion must not block cleanup.
  await fs.promises.rm(tmp, { recursive: true, force: true });
});

function buildDir(): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'build-'));
  fs.mkdirSync(path.join(dir, 'lib', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Procfile'), 'web: ./run.sh\n');
  fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n');
  // Writable by everyone as built: the store must take that away from group and others.
  fs.chmodSync(path.join(dir, 'run.sh'), 0o777);
  fs.writeFileSync(path.join(dir, 'lib', 'deep', 'data.txt'), 'data');
  fs.symlinkSync('lib/deep/data.txt', path.join(dir, 'data-link'));
  return dir;
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map((p) => path.join(dir, String(p)));
}

test('store moves the build into <slugs>/<app>/<id> and strips group and other write bits', async () => {
  const slugs = createSlugStore(path.join(tmp, 'slugs'));
  const build = buildDir();
  const id = await slugs.store('demo', build);
  assert.match(id, /^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
  const dir = slugs.path('demo', id);
  assert.equal(dir, path.join(tmp, 'slugs', 'demo', id));
  assert.ok(!fs.existsSync(build), 'moved, not copied');
  assert.equal(fs.readFileSync(path.join(dir, 'lib', 'deep', 'data.txt'), 'utf8'), 'data');
  assert.equal(fs.readlinkSync(path.join(dir, 'data-link')), 'lib/deep/data.txt');

  for (const p of [dir, ...walk(dir)]) {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) continue;
    assert.equal(st.mode & 0o022, 0, `${p} is writable by others (${(st.mode & 0o777).toString(8)})`);
    if (st.isDirectory()) assert.equal(st.mode & 0o700, 0o700, `${p} must stay usable by its owner (the app)`);
  }
  assert.equal(fs.statSync(path.join(dir, 'run.sh')).mode & 0o777, 0o755, 'executable bits kept');
});

test('a big build (hundreds of files, as with node_modules) is stored and removed the same way', async () => {
  const slugs = createSlugStore(path.join(tmp, 'slugs'));
  const build = buildDir();
  for (let i = 0; i < 30; i++) {
    const dir = path.join(build, 'node_modules', `pkg-${i}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
    fs.chmodSync(dir, 0o777);
    for (let j = 0; j < 10; j++) fs.writeFileSync(path.join(dir, `f${j}.js`), '', { mode: 0o666 });
  }
  const id = await slugs.store('big', build);
  const dir = slugs.path('big', id);
  const all = [dir, ...walk(dir)];
  assert.ok(all.length > 300);
  for (const p of all) {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) continue;
    assert.equal(st.mode & 0o022, 0, `${p} is writable by others (${(st.mode & 0o777).toString(8)})`);
  }
  await slugs.remove('big', id);
  assert.ok(!fs.existsSync(dir));
});

test('slug ids sort by creation time', async () => {
  const slugs = createSlugStore(path.join(tmp, 'slugs'));
  const first = await slugs.store('sorted', buildDir());
  await new Promise((resolve) => setTimeout(resolve, 5));
  const second = await slugs.store('sorted', buildDir());
  assert.ok(first < second, `${first} < ${second}`);
});

test('remove deletes a read-only slug, and removing it again is fine', async () => {
  const slugs = createSlugStore(path.join(tmp, 'slugs'));
  const id = await slugs.store('gone', buildDir());
  const dir = slugs.path('gone', id);
  await slugs.remove('gone', id);
  assert.ok(!fs.existsSync(dir));
  await slugs.remove('gone', id);
});

test('a file the slug shares with a kept layer (a hard link) is never made writable, not even on removal', async () => {
  const slugs = createSlugStore(path.join(tmp, 'slugs'));
  const kept = path.join(fs.mkdtempSync(path.join(tmp, 'kept-')), 'index.js');
  fs.writeFileSync(kept, 'module.exports = 1;\n');
  fs.chmodSync(kept, 0o444);
  const build = buildDir();
  fs.linkSync(kept, path.join(build, 'lib', 'index.js'));
  const id = await slugs.store('linked', build);
  assert.equal(fs.statSync(path.join(slugs.path('linked', id), 'lib', 'index.js')).ino, fs.statSync(kept).ino);
  await slugs.remove('linked', id);
  assert.equal(fs.statSync(kept).mode & 0o777, 0o444);
  assert.equal(fs.readFileSync(kept, 'utf8'), 'module.exports = 1;\n');
});

test('app names and slug ids that could leave the store are refused', async () => {
  const slugs = createSlugStore(path.join(tmp, 'slugs'));
  for (const [app, id] of [
    ['../x', 'id'],
    ['a/b', 'id'],
    ['.', 'id'],
    ['', 'id'],
    ['demo', '..'],
    ['demo', '../other'],
    ['demo', '.'],
  ]) {
    assert.throws(() => slugs.path(app as string, id as string), /invalid/);
    await assert.rejects(slugs.remove(app as string, id as string), /invalid/);
  }
  await assert.rejects(slugs.store('../escape', buildDir()), /invalid/);
  assert.ok(!fs.existsSync(path.join(tmp, 'escape')));
});
