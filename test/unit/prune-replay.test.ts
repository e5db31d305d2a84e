// The nodejs buildpack's replayed prune (buildpacks/nodejs/lib/prune-replay.mjs):
// a restore that copies only what pruning keeps must leave exactly what a full
// copy followed by the replayed prune leaves, nested removals, links and the
// files the prune rewrote included; a full copy is the entry as it is.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { HELPER_ENV, runChecked, runProcess } from '../../src/exec/index.ts';
import { ROOT } from '../helpers/slipway.ts';

const SCRIPT = path.join(ROOT, 'buildpacks', 'nodejs', 'lib', 'prune-replay.mjs');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-prune-replay-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const replay = (...args: string[]) => runChecked(['node', SCRIPT, ...args], { env: HELPER_ENV });
const copy = (from: string, to: string) => {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  return runChecked(['cp', '-a', from, to], { env: HELPER_ENV });
};

function write(root: string, files: Record<string, string>) {
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
}

/** Every path under `root` with its type and, for files and links, what it holds. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      const full = path.join(root, child);
      if (entry.isDirectory()) {
        out[child] = 'dir';
        visit(child);
      } else if (entry.isSymbolicLink()) out[child] = `-> ${fs.readlinkSync(full)}`;
      else out[child] = fs.readFileSync(full, 'utf8');
    }
  };
  visit('');
  return out;
}

test('restoring only what pruning keeps leaves what a full copy and the replayed prune leave', async () => {
  // The cache entry: what an install with devDependencies left.
  const entry = path.join(work, 'cache', 'node_modules');
  write(entry, {
    'express/index.js': 'express',
    'express/node_modules/debug/index.js': 'nested, a devDependency of the tree',
    'express/node_modules/qs/index.js': 'nested, kept',
    'eslint/index.js': 'dev',
    '@types/node/index.d.ts': 'dev',
    '@scope/keep/index.js': 'kept',
    '@scope/dev/index.js': 'dev',
    '.package-lock.json': 'before the prune',
  });
  fs.mkdirSync(path.join(entry, '.bin'));
  fs.symlinkSync('../express/index.js', path.join(entry, '.bin', 'express'));
  fs.symlinkSync('../eslint/index.js', path.join(entry, '.bin', 'eslint'));

  // The first build prunes a copy of it, recorded.
  const first = path.join(work, 'first', 'node_modules');
  await copy(entry, first);
  await replay('snapshot', first, path.join(work, 'before.json'));
  for (const gone of ['eslint', '@types', '@scope/dev', 'express/node_modules/debug', '.bin/eslint']) {
    fs.rmSync(path.join(first, gone), { recursive: true });
  }
  fs.writeFileSync(path.join(first, '.package-lock.json'), 'after the prune');
  const recording = path.join(work, 'cache', 'node_modules.prune');
  const recorded = await replay('record', path.join(work, 'before.json'), first, recording);
  assert.match(recorded, /^node_modules: \d+ MB with devDependencies, \d+ MB without$/m);

  // Later builds: a full copy then the replay, or the restore of only what stays.
  const replayed = path.join(work, 'replayed', 'node_modules');
  await copy(entry, replayed);
  await replay('replay', replayed, recording);
  const restored = path.join(work, 'restored', 'node_modules');
  await replay('restore', entry, restored, recording);

  assert.deepEqual(tree(restored), tree(first));
  assert.deepEqual(tree(replayed), tree(first));
  assert.equal(tree(restored)['.package-lock.json'], 'after the prune');
  assert.equal(tree(restored)['express/node_modules/debug/index.js'], undefined);
  assert.equal(tree(restored)['.bin/express'], '-> ../express/index.js');
  assert.equal(tree(entry)['eslint/index.js'], 'dev', 'the cache entry is left as it was');

  // A build that needs devDependencies copies the whole entry (several cp at once), then replays.
  const copied = path.join(work, 'copied', 'node_modules');
  await replay('copy', entry, copied);
  assert.deepEqual(tree(copied), tree(entry));
});

test('a recording that names a path outside node_modules is refused, and nothing is copied', async () => {
  const entry = path.join(work, 'hostile', 'node_modules');
  write(entry, { 'a/index.js': 'a' });
  const recording = path.join(work, 'hostile', 'node_modules.prune');
  write(recording, {
    'removed.json': JSON.stringify({ replayable: true, roots: ['../../etc'], changed: [] }),
  });
  const dest = path.join(work, 'hostile-dest');
  const result = await runProcess(['node', SCRIPT, 'restore', entry, dest, recording], { env: HELPER_ENV });
  assert.equal(result.code, 1);
  assert.equal(fs.existsSync(dest), false);
});
