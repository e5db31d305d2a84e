// Pruning devDependencies, replayed: pruning the same node_modules always
// removes the same paths and rewrites the same few files (npm's
// .package-lock.json, yarn's .yarn-integrity, pnpm's .modules.yaml), so when
// node_modules come from the cache the buildpack applies what the first prune
// of that cache entry did instead of starting the package manager again.
//
//   snapshot DIR FILE         list DIR's entries (type, size, mtime) into FILE
//   record FILE DIR OUT       compare DIR with the snapshot: OUT/removed.json, OUT/files/ (changed files)
//   replay DIR OUT            remove what was removed, put back the changed files
//
// The recording is kept beside the cache entry and dropped with it.

import fs from 'node:fs';
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
    JSON.stringify({ replayable, roots, changed: changed.map(([p]) => p) }),
  );
}

function replay(dir, out) {
  const plan = JSON.parse(fs.readFileSync(path.join(out, 'removed.json'), 'utf8'));
  if (!plan.replayable) process.exit(1);
  const inside = (p) => typeof p === 'string' && p !== '' && !path.isAbsolute(p) && !p.split('/').includes('..');
  if (![...plan.roots, ...plan.changed].every(inside))
    throw new Error('the recording names paths outside node_modules');
  for (const p of plan.roots) fs.rmSync(path.join(dir, p), { recursive: true, force: true });
  for (const p of plan.changed) fs.copyFileSync(path.join(out, 'files', p), path.join(dir, p));
  process.stdout.write(`${plan.roots.length} paths removed\n`);
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === 'snapshot') snapshot(args[0], args[1]);
  else if (command === 'record') record(args[0], args[1], args[2]);
  else if (command === 'replay') replay(args[0], args[1]);
  else throw new Error(`unknown command ${command}`);
} catch (err) {
  process.stderr.write(`prune-replay ${command}: ${err.message}\n`);
  process.exit(1);
}
