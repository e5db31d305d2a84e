// The slug's share of a kept layer (runtime/sandbox/slug-links.ts): the
// layer's entry linked into the slug, then what a build changed in it, read
// from a real overlay's upper layer, put on top: the slug shows the merged
// view exactly, and no file of the layer changes. Needs root (overlay
// mounts, in a private mount namespace of the test's own); skipped otherwise.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { HELPER_ENV, inPrivateMounts, runChecked } from '../../src/exec/index.ts';
import { LINK_DELTA_SCRIPT, LINK_DELTA_SH } from '../../src/runtime/sandbox/slug-links.ts';

const skip = process.getuid?.() !== 0 ? 'overlay mounts need root' : false;

/** Every path under `root` with its type, mode and content (or link target): what a slug shows. */
function tree(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).sort().map((rel) => {
    const p = path.join(root, rel);
    const st = fs.lstatSync(p);
    const what = st.isSymbolicLink()
      ? `-> ${fs.readlinkSync(p)}`
      : st.isDirectory()
        ? 'dir'
        : fs.readFileSync(p, 'utf8');
    return `${rel} ${(st.mode & 0o7777).toString(8)} ${st.uid} ${what}`;
  });
}

// Fixed text: what a build does in the merged view, then the collect's part (mounted again, as it does).
const SCRIPT = [
  'set -e',
  LINK_DELTA_SH,
  'cd "$1"',
  'opts=lowerdir=src:lower,upperdir=upper,workdir=work',
  'mount -t overlay overlay -o "$opts" merged',
  'm=merged/node_modules',
  'echo rewritten >"$m/a/index.js"',
  'rm "$m/a/package.json"',
  'chmod 0700 "$m/a"',
  'rm -r "$m/b" && mkdir "$m/b" && echo only >"$m/b/new.js"',
  'rm "$m/c/file" && mkdir "$m/c/file" && echo inner >"$m/c/file/inner"',
  'rm -r "$m/d/sub" && echo now-a-file >"$m/d/sub"',
  'ln -sfn elsewhere "$m/link"',
  'echo appended >>"$m/e/data"',
  'chown 4321:4321 "$m/e/owned"',
  'mkdir -p "$m/f/g" && echo deep >"$m/f/g/h.js"',
  'umount merged',
  'mount -t overlay overlay -o "$opts" merged',
  'cp -al lower/node_modules dest/node_modules',
  'link_delta "$2" "$3" "$1/merged" "$1/upper" "$1/dest" node_modules',
  'cp -a merged/node_modules shown',
].join('\n');

describe('a kept layer linked into the slug', { skip }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-slug-links-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test("the slug shows what the build made of the layer, and the layer's files stay as they were", async () => {
    for (const dir of ['src', 'upper', 'work', 'merged', 'dest']) fs.mkdirSync(path.join(root, dir));
    const put = (rel: string, text: string) => {
      const file = path.join(root, 'lower', 'node_modules', rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    };
    put('a/index.js', 'module.exports = 1;\n');
    put('a/package.json', '{"name":"a"}\n');
    put('b/old.js', 'old\n');
    put('b/lib/deep.js', 'deep\n');
    put('c/file', 'file\n');
    put('c/keep', 'keep\n');
    put('d/sub/x', 'x\n');
    put('e/data', 'data\n');
    put('e/owned', 'owned\n');
    put('untouched/index.js', 'same\n');
    fs.symlinkSync('a', path.join(root, 'lower', 'node_modules', 'link'));
    const lower = path.join(root, 'lower');
    const before = tree(lower);
    const inodes = (fs.readdirSync(lower, { recursive: true }) as string[]).map((rel) => [
      rel,
      fs.lstatSync(path.join(lower, rel)).ino,
    ]);

    await runChecked([...inPrivateMounts(SCRIPT, 'slug-links-test'), root, process.execPath, LINK_DELTA_SCRIPT], {
      env: HELPER_ENV,
    });

    const slug = path.join(root, 'dest', 'node_modules');
    assert.deepEqual(tree(slug), tree(path.join(root, 'shown')), 'the slug is the merged view');
    assert.deepEqual(fs.readdirSync(path.join(slug, 'b')), ['new.js'], 'a folder made anew hides the old one');
    assert.deepEqual(tree(lower), before, 'the layer is as it was');
    for (const [rel, ino] of inodes) assert.equal(fs.lstatSync(path.join(lower, String(rel))).ino, ino);
    const linked = (rel: string) =>
      fs.statSync(path.join(slug, rel)).ino === fs.statSync(path.join(lower, 'node_modules', rel)).ino;
    assert.equal(linked('untouched/index.js'), true, 'an unchanged file is a link');
    assert.equal(linked('c/keep'), true);
    assert.equal(linked('e/data'), false, 'a changed one a copy');
    assert.equal(linked('e/owned'), false);
  });
});
