// The slug's share of a kept layer (kept-layer.ts): the collect links the
// layer's entry into the slug (`cp -al`, a moment where a copy takes a second
// for a node_modules), then puts what the build changed in it on top, found in
// the build's upper layer: every path there that the merged view still has is
// removed from the slug's links and copied from the merged view, and what a
// directory there no longer shows (a whiteout, an opaque or renamed
// directory) is removed. A link is only ever removed, never opened for
// writing, chmod-ed or chown-ed (only the slug's own directories are), so
// the kept layer stays as it was. Run by the collect as root: `node -e
// LINK_DELTA_SCRIPT MERGED UPPER DEST NAME`.

export const LINK_DELTA_SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const [merged, upper, dest, name] = process.argv.slice(1);
const removals = [];
const copies = [];
const dirs = [];
const entry = (p) => fs.lstatSync(p, { throwIfNoEntry: false });
const walk = (rel) => {
  const here = entry(path.join(dest, rel));
  if (!here || !here.isDirectory()) {
    if (here) removals.push(rel);
    copies.push(rel);
    return;
  }
  const shown = new Set(fs.readdirSync(path.join(merged, rel)));
  for (const e of fs.readdirSync(path.join(dest, rel))) if (!shown.has(e)) removals.push(path.join(rel, e));
  for (const e of fs.readdirSync(path.join(upper, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (!shown.has(e.name)) continue;
    if (e.isDirectory() && entry(path.join(merged, r))?.isDirectory()) walk(r);
    else {
      if (entry(path.join(dest, r))) removals.push(r);
      copies.push(r);
    }
  }
  dirs.push(rel);
};
walk(name);
for (const r of removals) fs.rmSync(path.join(dest, r), { recursive: true, force: true });
for (let i = 0; i < copies.length; i += 200)
  execFileSync('cp', ['-a', '--parents', '-t', dest, '--', ...copies.slice(i, i + 200)], { cwd: merged, stdio: 'inherit' });
for (const rel of dirs) {
  const s = fs.lstatSync(path.join(merged, rel));
  const d = path.join(dest, rel);
  fs.lchownSync(d, s.uid, s.gid);
  fs.chmodSync(d, s.mode & 0o7777);
  fs.utimesSync(d, s.atime, s.mtime);
}
`;
