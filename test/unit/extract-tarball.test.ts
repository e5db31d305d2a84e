// extractTarball refuses hostile archives before writing anything, and
// unpacks honest ones faithfully (nested dirs, modes, in-tree symlinks).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { c as createTar } from 'tar';
import { type ErrorCode, isSlipwayError } from '../../src/core/errors.ts';
import { DEFAULT_LIMITS } from '../../src/source/check-entry.ts';
import { unpackChecked } from '../../src/source/extract-tarball.ts';
import { checkTarball, extractTarball, unwrapSingleTopDir } from '../../src/source/index.ts';
import { type RawEntry, rawTarball } from '../helpers/hostile-tarball.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-extract-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh root holding `dest/` (empty), `sibling/` (empty) and the archive. */
function workspace(archive: Buffer) {
  const root = fs.mkdtempSync(path.join(tmp, 'case-'));
  const dest = path.join(root, 'dest');
  const sibling = path.join(root, 'sibling');
  fs.mkdirSync(dest);
  fs.mkdirSync(sibling);
  const file = path.join(root, 'upload.tar.gz');
  fs.writeFileSync(file, archive);
  return { root, dest, sibling, file };
}

function assertUntouched(ws: ReturnType<typeof workspace>, wouldBe: string[]) {
  assert.deepEqual(fs.readdirSync(ws.root).sort(), ['dest', 'sibling', 'upload.tar.gz']);
  assert.deepEqual(fs.readdirSync(ws.sibling), [], 'sibling dir stays empty');
  for (const p of wouldBe) assert.ok(!fs.existsSync(p), `${p} must not exist`);
}

const procfile: RawEntry = { path: 'Procfile', body: 'web: node server.js\n' };

const hostile: [string, RawEntry[], ErrorCode, (root: string) => string[]][] = [
  ['../evil', [{ path: '../evil', body: 'x' }], 'source.unsafe_path', (r) => [path.join(r, 'evil')]],
  ['a/../../evil', [{ path: 'a/../../evil', body: 'x' }], 'source.unsafe_path', (r) => [path.join(r, 'evil')]],
  ['/etc/evil', [{ path: '/etc/evil', body: 'x' }], 'source.unsafe_path', () => ['/etc/evil']],
  [
    'an absolute path into the parent',
    [{ path: '/ROOT/evil', body: 'x' }],
    'source.unsafe_path',
    (r) => [path.join(r, 'evil')],
  ],
  [
    'symlink link -> ../../outside',
    [{ path: 'link', type: 'SymbolicLink', linkpath: '../../outside' }],
    'source.unsafe_link',
    () => [],
  ],
  [
    'symlink link -> /etc, then a write through it',
    [
      { path: 'link', type: 'SymbolicLink', linkpath: '/etc' },
      { path: 'link/evil', body: 'x' },
    ],
    'source.unsafe_link',
    () => ['/etc/evil'],
  ],
  [
    'a symlink into the parent, then a write through it',
    [
      { path: 'up', type: 'SymbolicLink', linkpath: '..' },
      { path: 'up/sibling/evil', body: 'x' },
    ],
    'source.unsafe_link',
    (r) => [path.join(r, 'sibling', 'evil')],
  ],
  ['hard link to ../x', [{ path: 'hard', type: 'Link', linkpath: '../x' }], 'source.unsafe_link', () => []],
  [
    'hard link to /etc/passwd',
    [{ path: 'hard', type: 'Link', linkpath: '/etc/passwd' }],
    'source.unsafe_link',
    () => [],
  ],
  [
    'a chain of in-tree-looking symlinks that escapes (d/esc -> up/.., d/up -> ..)',
    [
      { path: 'd/', type: 'Directory' },
      { path: 'd/up', type: 'SymbolicLink', linkpath: '..' },
      { path: 'd/esc', type: 'SymbolicLink', linkpath: 'up/..' },
    ],
    'source.unsafe_link',
    () => [],
  ],
  [
    'a file written through an in-tree symlink',
    [
      { path: 'sub/', type: 'Directory' },
      { path: 'alias', type: 'SymbolicLink', linkpath: 'sub' },
      { path: 'alias/file', body: 'x' },
    ],
    'source.unsafe_link',
    () => [],
  ],
  [
    'a symlink declared after a file beneath it',
    [
      { path: 'sub/', type: 'Directory' },
      { path: 'x/file', body: 'x' },
      { path: 'x', type: 'SymbolicLink', linkpath: 'sub' },
    ],
    'source.unsafe_link',
    () => [],
  ],
  [
    'a hard link to a symlink (would move its relative target)',
    [
      { path: 'sub/s', type: 'SymbolicLink', linkpath: '../Procfile' },
      { path: 'h', type: 'Link', linkpath: 'sub/s' },
    ],
    'source.unsafe_link',
    () => [],
  ],
  ['a character device', [{ path: 'dev', type: 'CharacterDevice' }], 'source.unsupported_entry', () => []],
  ['a FIFO', [{ path: 'fifo', type: 'FIFO' }], 'source.unsupported_entry', () => []],
];

for (const [what, entries, code, wouldBe] of hostile) {
  test(`refuses ${what} with ${code} and writes nothing`, async () => {
    const probe = workspace(Buffer.alloc(0));
    const fixed = entries.map((e) => ({ ...e, path: e.path.replace('/ROOT', probe.root) }));
    fs.writeFileSync(probe.file, rawTarball([procfile, ...fixed]));
    await assert.rejects(extractTarball(probe.file, probe.dest), (err) => {
      assert.ok(isSlipwayError(err, code), `${code} expected, got ${String(err)}`);
      assert.ok(err.message.length > 0);
      return true;
    });
    assert.deepEqual(fs.readdirSync(probe.dest), [], 'validation happens before any write');
    assertUntouched(probe, wouldBe(probe.root));
  });
}

test('the error names the offending entry', async () => {
  const ws = workspace(rawTarball([procfile, { path: 'a/../../evil', body: 'x' }]));
  await assert.rejects(extractTarball(ws.file, ws.dest), /a\/\.\.\/\.\.\/evil/);
});

test('checkTarball validates without writing: stats for a good archive, the same errors for a bad one', async () => {
  const ws = workspace(rawTarball([procfile, { path: 'lib/a.js', body: 'abc' }]));
  assert.deepEqual(await checkTarball(ws.file), { files: 2, bytes: 'web: node server.js\n'.length + 3 });
  fs.writeFileSync(ws.file, rawTarball([procfile, { path: '../evil', body: 'x' }]));
  await assert.rejects(checkTarball(ws.file), (err) => isSlipwayError(err, 'source.unsafe_path'));
  assertUntouched(ws, [path.join(ws.root, 'evil')]);
  assert.deepEqual(fs.readdirSync(ws.dest), []);
});

test('pass two alone (the extract filter) still refuses what pass one would, streamed or written at once', async () => {
  for (const [entries, sync] of [
    [{ path: '../evil', body: 'x' }],
    [
      { path: 'link', type: 'SymbolicLink', linkpath: '/ROOT' },
      { path: 'link/evil', body: 'x' },
    ],
    [{ path: 'fifo', type: 'FIFO' }],
  ].flatMap((entries) => [false, true].map((sync) => [entries, sync] as const)) as [RawEntry[], boolean][]) {
    const ws = workspace(Buffer.alloc(0));
    const fixed = entries.map((e) => ({ ...e, linkpath: e.linkpath?.replace('/ROOT', ws.root) }));
    const archive = rawTarball([procfile, ...fixed]);
    fs.writeFileSync(ws.file, archive);
    const unpacking = sync
      ? unpackChecked(archive, ws.dest, DEFAULT_LIMITS, { sync })
      : unpackChecked(ws.file, ws.dest, DEFAULT_LIMITS);
    await assert.rejects(unpacking, (err) => isSlipwayError(err));
    assertUntouched(ws, [path.join(ws.root, 'evil')]);
    assert.ok(!fs.existsSync(path.join(ws.dest, 'link')));
  }
});

test('limits: entry count, total bytes, single file size (source.too_large, naming the limit)', async () => {
  const files = (n: number, size: number): RawEntry[] =>
    Array.from({ length: n }, (_, i) => ({ path: `f${i}`, body: 'x'.repeat(size) }));
  const cases: [RawEntry[], Parameters<typeof extractTarball>[2], RegExp][] = [
    [files(5, 1), { maxEntries: 3 }, /more than 3 entries/],
    [files(3, 100), { maxBytes: 150 }, /limit of 150 bytes/],
    [files(1, 100), { maxFileBytes: 99 }, /per-file limit of 99/],
  ];
  for (const [entries, limits, message] of cases) {
    const ws = workspace(rawTarball(entries));
    await assert.rejects(extractTarball(ws.file, ws.dest, limits), (err) => {
      assert.ok(isSlipwayError(err, 'source.too_large'), String(err));
      assert.match(err.message, message);
      return true;
    });
    assert.deepEqual(fs.readdirSync(ws.dest), []);
  }
});

test('garbage, gzip of garbage, truncated and zero-byte files are source.invalid_archive', async () => {
  const good = rawTarball([procfile, { path: 'big', body: randomBytes(64 * 1024).toString('hex') }]);
  for (const bytes of [
    randomBytes(2048),
    gzipSync(randomBytes(4096)),
    good.subarray(0, good.length / 2),
    Buffer.alloc(0),
  ]) {
    const ws = workspace(bytes);
    await assert.rejects(extractTarball(ws.file, ws.dest), (err) => isSlipwayError(err, 'source.invalid_archive'));
    assertUntouched(ws, []);
    assert.deepEqual(fs.readdirSync(ws.dest), []);
  }
});

test('an empty archive, or one with only directories, is source.empty', async () => {
  for (const bytes of [gzipSync(Buffer.alloc(1024)), rawTarball([{ path: 'a/', type: 'Directory' }])]) {
    const ws = workspace(bytes);
    await assert.rejects(extractTarball(ws.file, ws.dest), (err) => isSlipwayError(err, 'source.empty'));
  }
});

test('an honest archive unpacks: nested dirs, modes, in-tree symlinks, long names, ./ prefix', async () => {
  const src = fs.mkdtempSync(path.join(tmp, 'src-'));
  const longDir = path.join('deep', 'a'.repeat(60), 'b'.repeat(60));
  fs.mkdirSync(path.join(src, 'lib', 'nested'), { recursive: true });
  fs.mkdirSync(path.join(src, 'bin'));
  fs.mkdirSync(path.join(src, longDir), { recursive: true });
  fs.writeFileSync(path.join(src, 'Procfile'), 'web: ./bin/start.sh\n');
  fs.writeFileSync(path.join(src, 'bin', 'start.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.chmodSync(path.join(src, 'bin', 'start.sh'), 0o755);
  fs.writeFileSync(path.join(src, 'lib', 'nested', 'data.txt'), 'data\n');
  fs.writeFileSync(path.join(src, longDir, 'c'.repeat(80)), 'long\n');
  fs.symlinkSync('nested/data.txt', path.join(src, 'lib', 'data-link'));
  fs.symlinkSync('../lib', path.join(src, 'bin', 'lib'));
  const ws = workspace(Buffer.alloc(0));
  await createTar({ gzip: true, file: ws.file, cwd: src }, ['.']);

  const stats = await extractTarball(ws.file, ws.dest);
  assert.equal(stats.files, 4);
  assert.equal(stats.bytes, 'web: ./bin/start.sh\n'.length + '#!/bin/sh\necho hi\n'.length + 5 + 5);
  const d = ws.dest;
  assert.equal(fs.statSync(path.join(d, 'bin', 'start.sh')).mode & 0o777, 0o755);
  assert.equal(fs.readFileSync(path.join(d, 'lib', 'nested', 'data.txt'), 'utf8'), 'data\n');
  assert.equal(fs.readlinkSync(path.join(d, 'lib', 'data-link')), 'nested/data.txt');
  assert.equal(fs.readFileSync(path.join(d, 'lib', 'data-link'), 'utf8'), 'data\n');
  assert.equal(fs.readlinkSync(path.join(d, 'bin', 'lib')), '../lib');
  assert.equal(fs.readFileSync(path.join(d, longDir, 'c'.repeat(80)), 'utf8'), 'long\n');
  assertUntouched(ws, []);
});

test('setuid/setgid bits are dropped, other permission bits kept', async () => {
  const ws = workspace(
    rawTarball([
      { path: 'tool', body: 'x', mode: 0o6755 },
      { path: 'ro.txt', body: 'x', mode: 0o444 },
    ]),
  );
  await extractTarball(ws.file, ws.dest);
  assert.equal(fs.statSync(path.join(ws.dest, 'tool')).mode & 0o7777, 0o755);
  assert.equal(fs.statSync(path.join(ws.dest, 'ro.txt')).mode & 0o7777, 0o444);
});

test('archives over 64 KiB (streamed from their file, not read at once) are checked and unpacked alike', async () => {
  const blob = randomBytes(150 * 1024).toString('base64'); // barely compressible
  const honest = rawTarball([procfile, { path: 'lib/blob.txt', body: blob }]);
  assert.ok(honest.length > 64 * 1024, `the archive is ${honest.length} bytes`);
  const ws = workspace(honest);
  assert.deepEqual(await extractTarball(ws.file, ws.dest), {
    files: 2,
    bytes: 'web: node server.js\n'.length + blob.length,
  });
  assert.equal(fs.readFileSync(path.join(ws.dest, 'lib', 'blob.txt'), 'utf8'), blob);

  const hostile = workspace(
    rawTarball([
      { path: 'blob.txt', body: blob },
      { path: '../evil', body: 'x' },
    ]),
  );
  await assert.rejects(checkTarball(hostile.file), (err) => isSlipwayError(err, 'source.unsafe_path'));
  await assert.rejects(extractTarball(hostile.file, hostile.dest), (err) => isSlipwayError(err, 'source.unsafe_path'));
  assertUntouched(hostile, [path.join(hostile.root, 'evil')]);
  assert.deepEqual(fs.readdirSync(hostile.dest), []);
});

test('unwrapSingleTopDir moves a lone top directory up, even when it contains its own name', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'unwrap-'));
  fs.mkdirSync(path.join(dir, 'repo', 'repo'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'repo', 'Procfile'), 'web: x\n');
  fs.writeFileSync(path.join(dir, 'repo', 'repo', 'inner'), 'i');
  assert.equal(await unwrapSingleTopDir(dir), true);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['Procfile', 'repo']);
  assert.equal(fs.readFileSync(path.join(dir, 'repo', 'inner'), 'utf8'), 'i');
  assert.equal(await unwrapSingleTopDir(dir), false, 'two entries: left alone');

  const single = fs.mkdtempSync(path.join(tmp, 'unwrap-'));
  fs.writeFileSync(path.join(single, 'only-file'), '');
  assert.equal(await unwrapSingleTopDir(single), false, 'a lone file: left alone');
});
