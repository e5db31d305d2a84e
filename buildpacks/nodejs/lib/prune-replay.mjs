// Pruning devDependencies, replayed: pruning the same node_modules always
// removes the same paths and rewrites the same few files (npm's
// .package-lock.json, yarn's .yarn-integrity, pnpm's .modules.yaml), so when
// node_modules come from the cache the buildpack applies what the first prune
// of that cache entry did instead of starting the package manager again.
//
//   snapshot DIR FILE         list DIR's entries (type, size, mtime) into FILE
//   record FILE DIR OUT       compare DIR with the snapshot: OUT/removed.json, OUT/files/ (changed files)
//   replay DIR OUT            remove what was removed, put back the changed files
//   restore ENTRY DEST OUT    copy ENTRY (the cached node_modules) to DEST as the replayed prune
//                             leaves it: what it removes is never copied (for builds that run no
//                             script needing devDependencies)
//   copy ENTRY DEST           copy all of ENTRY to DEST
//   split ENTRY OUT           make ENTRY what the prune leaves (its removed trees moved to OUT/dev/,
//                             the changed files' first versions to OUT/before/): a runner can then
//                             show ENTRY as the pruned node_modules without copying or removing
//   unprune DEST OUT          put what a split moved out back into DEST (builds that need
//                             devDependencies), for `replay` to remove again after the build
//
// Copies run as several `cp -a` at once (one per core, up to 4), taking a few
// top-level entries at a time: on 2 cores a node_modules copies in ~0.6 the
// time of one `cp -a`.
//
// record, replay and restore print node_modules' size with and without devDependencies.
// The recording is kept beside the cache entry and dropped with it.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function walk(root) {
  const entries = new Map();
  const visit = (rel) => {
    for (const dirent of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel === '' ? dirent.name : `${rel}/${dirent.name}`;
      const stat = fs.lstatSync(path.join(root, child));
      const type = dirent.isDirectory() ? 'd' : dirent.isSymbolicLink() ? 'l' : 'f';
      entries.set(child, `${type} ${stat.size} ${stat.mtimeMs}`);
      if (type === 'd') visit(child);
    }
  };
  visit('');
  return entries;
}

/** The bytes of a walk's files (their apparent size), in MB. */
function megabytes(entries) {
  let bytes = 0;
  for (const meta of entries.values()) if (!meta.startsWith('d ')) bytes += Number(meta.split(' ')[1]);
  return Math.round(bytes / 1024 / 1024);
}

function sizes(plan) {
  if (typeof plan.mb_before !== 'number') return; // recorded before sizes were
  process.stdout.write(`node_modules: ${plan.mb_before} MB with devDependencies, ${plan.mb_after} MB without\n`);
}

function snapshot(dir, file) {
  fs.writeFileSync(file, JSON.stringify([...walk(dir)]));
}

function record(file, dir, out) {
  const before = new Map(JSON.parse(fs.readFileSync(file, 'utf8')));
  const after = walk(dir);
  const removed = [...before.keys()].filter((p) => !after.has(p));
  const gone = new Set(removed);
  // Only the top of each removed tree: removing it removes the rest.
  const roots = removed.filter((p) => !gone.has(path.posix.dirname(p)));
  const changed = [...after].filter(([p, meta]) => meta.startsWith('f ') && before.has(p) && before.get(p) !== meta);
  const added = [...after.keys()].filter((p) => !before.has(p));
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'files'), { recursive: true });
  for (const [p] of changed) {
    fs.mkdirSync(path.dirname(path.join(out, 'files', p)), { recursive: true });
    fs.copyFileSync(path.join(dir, p), path.join(out, 'files', p));
  }
  // A prune that created entries is not a plain removal: leave it to the package manager next time.
  const replayable = added.length === 0;
  fs.writeFileSync(
    path.join(out, 'removed.json'),
    JSON.stringify({
      replayable,
      roots,
      changed: changed.map(([p]) => p),
      mb_before: megabytes(before),
      mb_after: megabytes(after),
    }),
  );
  sizes({ mb_before: megabytes(before), mb_after: megabytes(after) });
}

/** The recording of OUT, checked; exits 1 when it cannot be replayed. */
function readPlan(out) {
  const plan = JSON.parse(fs.readFileSync(path.join(out, 'removed.json'), 'utf8'));
  if (!plan.replayable) process.exit(1);
  const inside = (p) => typeof p === 'string' && p !== '' && !path.isAbsolute(p) && !p.split('/').includes('..');
  if (![...plan.roots, ...plan.changed].every(inside))
    throw new Error('the recording names paths outside node_modules');
  return plan;
}

function replay(dir, out) {
  const plan = readPlan(out);
  for (const p of plan.roots) fs.rmSync(path.join(dir, p), { recursive: true, force: true });
  for (const p of plan.changed) fs.copyFileSync(path.join(out, 'files', p), path.join(dir, p));
  sizes(plan);
}

/** Entries one `cp` takes at a time: small enough to share the work out, few enough processes. */
const COPY_BATCH = 25;

/** Copies `units` (paths relative to `from`) to the same paths under `dest`, several `cp -a` at once. */
async function copyUnits(from, dest, units) {
  const queue = [...units];
  const copier = async () => {
    while (queue.length > 0) {
      const batch = queue.splice(0, COPY_BATCH);
      await new Promise((resolve, reject) => {
        const cp = spawn('cp', ['-a', '--parents', '-t', dest, '--', ...batch], {
          cwd: from,
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        cp.on('error', reject);
        cp.on('close', (code, signal) =>
          code === 0 ? resolve() : reject(new Error(`cp exited with ${code ?? signal}`)),
        );
      });
    }
  };
  const copiers = Math.max(1, Math.min(os.availableParallelism(), 4));
  await Promise.all(Array.from({ length: copiers }, copier));
}

async function copy(entry, dest) {
  fs.mkdirSync(dest, { recursive: true });
  await copyUnits(entry, dest, fs.readdirSync(entry));
}

/**
 * Copies `entry` to `dest` without what the prune removes: every subtree
 * holding no removed path is one `cp -a --parents` unit; a directory holding
 * one is made and walked into. Then the changed files are put back.
 */
async function restore(entry, dest, out) {
  const plan = readPlan(out);
  if (plan.split) {
    await copy(entry, dest); // already what the prune leaves
    sizes(plan);
    return;
  }
  const removed = new Set(plan.roots);
  const partial = new Set();
  for (const p of plan.roots) {
    for (let dir = path.posix.dirname(p); dir !== '.'; dir = path.posix.dirname(dir)) partial.add(dir);
  }
  const units = [];
  const visit = (rel) => {
    for (const name of fs.readdirSync(path.join(entry, rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (removed.has(child)) continue;
      if (partial.has(child)) visit(child);
      else units.push(child);
    }
  };
  visit('');
  fs.mkdirSync(dest, { recursive: true });
  for (const dir of partial) fs.mkdirSync(path.join(dest, dir), { recursive: true });
  await copyUnits(entry, dest, units);
  for (const p of plan.changed) fs.copyFileSync(path.join(out, 'files', p), path.join(dest, p));
  sizes(plan);
}

/** Moves `rel` from under `from` to the same path under `to` (one file system: a rename). */
function move(from, to, rel) {
  fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
  fs.renameSync(path.join(from, rel), path.join(to, rel));
}

function split(entry, out) {
  // A prune that cannot be replayed is left to the package manager, over the whole entry.
  if (!JSON.parse(fs.readFileSync(path.join(out, 'removed.json'), 'utf8')).replayable) return;
  const plan = readPlan(out);
  if (plan.split) return;
  for (const p of plan.roots) move(entry, path.join(out, 'dev'), p);
  for (const p of plan.changed) {
    move(entry, path.join(out, 'before'), p);
    fs.copyFileSync(path.join(out, 'files', p), path.join(entry, p));
  }
  fs.writeFileSync(path.join(out, 'removed.json'), JSON.stringify({ ...plan, split: true }));
}

async function unprune(dest, out) {
  const plan = readPlan(out);
  if (!plan.split) throw new Error('the cached node_modules were not split');
  await copyUnits(path.join(out, 'dev'), dest, plan.roots);
  for (const p of plan.changed) fs.copyFileSync(path.join(out, 'before', p), path.join(dest, p));
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === 'snapshot') snapshot(args[0], args[1]);
  else if (command === 'record') record(args[0], args[1], args[2]);
  else if (command === 'replay') replay(args[0], args[1]);
  else if (command === 'restore') await restore(args[0], args[1], args[2]);
  else if (command === 'copy') await copy(args[0], args[1]);
  else if (command === 'split') split(args[0], args[1]);
  else if (command === 'unprune') await unprune(args[0], args[1]);
  else throw new Error(`unknown command ${command}`);
} catch (err) {
  process.stderr.write(`prune-replay ${command}: ${err.message}\n`);
  process.exit(1);
}
