// The slug's share of a kept layer (kept-layer.ts): the collect links the
// layer's entry into the slug (`cp -al`, a moment where a copy takes a second
// for a node_modules), then puts what the build changed in it on top, found in
// the build's upper layer: every path there that the merged view still has is
// removed from the slug's links and copied from the merged view, and what a
// directory there no longer shows (a whiteout, an opaque or renamed
// directory) is removed. A link is only ever removed, never opened for
// writing, chmod-ed or chown-ed (only the slug's own directories are), so
// the kept layer stays as it was. Run by the collect as root, as the shell
// function LINK_DELTA_SH defines: `link_delta NODE LINK_DELTA_SCRIPT MERGED
// UPPER DEST NAME`. The script only plans (and removes): `plan` prints the
// paths to copy, NUL-separated, for the shell's `cp -a --parents`; `dirs`,
// once they are copied, gives the slug's directories the merged view's owners,
// modes and times.

/** Shell text defining `link_delta`; its status is the first step's that failed. */
export const LINK_DELTA_SH = [
  'link_delta() {',
  '  _list="$5.copies"',
  '  "$1" -e "$2" plan "$3" "$4" "$5" "$6" >"$_list" &&',
  '    (cd "$3" && xargs -0 -r -n 200 cp -a --parents -t "$5" -- <"$_list") &&',
  '    "$1" -e "$2" dirs "$3" "$4" "$5" "$6"',
  '  _status=$?',
  '  rm -f "$_list"',
  '  return "$_status"',
  '}',
].join('\n');

export const LINK_DELTA_SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
const [mode, merged, upper, dest, name] = process.argv.slice(1);
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
if (mode === 'plan') {
  for (const r of removals) fs.rmSync(path.join(dest, r), { recursive: true, force: true });
  process.stdout.write(copies.map((r) => r + '\\0').join(''));
} else for (const rel of dirs) {
  const s = fs.lstatSync(path.join(merged, rel));
  const d = path.join(dest, rel);
  fs.lchownSync(d, s.uid, s.gid);
  fs.chmodSync(d, s.mode & 0o7777);
  fs.utimesSync(d, s.atime, s.mtime);
}
`;
