// packDirectory with the real git and the real tar: what ends up in the
// archive `slipway deploy DIR` uploads, for the cases an end-to-end deploy
// would make slow or cannot make (a FIFO, no git on the PATH, a repository
// git refuses to read).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { list } from 'tar';
import { CliError } from '../../src/cli/cli-error.ts';
import { packDirectory } from '../../src/cli/pack-source.ts';
import { commitAll } from '../helpers/git-fixture.ts';
import { baseEnv } from '../helpers/slipway.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-pack-'));
  dirs.push(dir);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

/** The archive's entry names, as the server will unpack them, and the packer's notes. */
async function pack(dir: string, env = baseEnv()): Promise<{ names: string[]; notes: readonly string[] }> {
  const packed = await packDirectory(dir, env);
  const names: string[] = [];
  try {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-pack-out-')), 'a.tar.gz');
    dirs.push(path.dirname(file));
    await new Promise<void>((resolve, reject) =>
      packed.open().pipe(fs.createWriteStream(file)).on('finish', resolve).on('error', reject),
    );
    await list({ file, onReadEntry: (e) => names.push(e.path.replace(/^\.\//, '')) });
  } finally {
    packed.cleanup();
  }
  return { names: names.sort(), notes: packed.selection.notes };
}

describe('packDirectory outside git', () => {
  test('a FIFO is left out and named, instead of hanging the pack', async () => {
    const dir = tree({ 'app.js': 'x\n', '@types/x.d.ts': 'x\n' });
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    const { names, notes } = await pack(dir);
    assert.deepEqual(names, ['@types/', '@types/x.d.ts', 'app.js']);
    assert.deepEqual(notes, ['left out 1 that are neither files, directories nor links: pipe']);
  });

  test('.git, node_modules and .slipway stay out at the top; .git anywhere; empty directories stay', async () => {
    const dir = tree({
      'node_modules/x/index.js': 'x\n',
      '.slipway/slipway.db': 'x\n',
      'vendor/lib/.git/HEAD': 'x\n',
      'vendor/lib/node_modules/y.js': 'x\n',
    });
    fs.mkdirSync(path.join(dir, 'tmp'));
    const { names } = await pack(dir);
    assert.deepEqual(names, [
      'tmp/',
      'vendor/',
      'vendor/lib/',
      'vendor/lib/node_modules/',
      'vendor/lib/node_modules/y.js',
    ]);
  });

  test('more than five left out are counted, five named', async () => {
    const files: Record<string, string> = { '.slugignore': '*.tmp\n', 'app.js': 'x\n' };
    for (let i = 1; i <= 8; i++) files[`t${i}.tmp`] = 'x\n';
    const { names, notes } = await pack(tree(files));
    assert.deepEqual(names, ['.slugignore', 'app.js']);
    assert.deepEqual(notes, ['.slugignore left out 8: t1.tmp, t2.tmp, t3.tmp, t4.tmp, t5.tmp and 3 more']);
  });
});

describe('packDirectory in a git work tree', () => {
  test('.slugignore applies on top of git, and a tracked file turned FIFO is left out', async () => {
    const dir = tree({ '.slugignore': 'docs/\n', 'docs/a.md': 'x\n', 'app.js': 'x\n', data: 'x\n' });
    await commitAll(dir);
    fs.rmSync(path.join(dir, 'data'));
    execFileSync('mkfifo', [path.join(dir, 'data')]);
    const { names, notes } = await pack(dir);
    assert.deepEqual(names, ['.slugignore', 'app.js']);
    assert.deepEqual(notes, [
      '.slugignore left out 1: docs/a.md',
      'left out 1 that are neither files, directories nor links: data',
    ]);
  });

  test('without git on the PATH, every file is packed and the user is told', async () => {
    const dir = tree({ '.gitignore': '.env\n', '.env': 'SECRET=1\n', 'app.js': 'x\n' });
    await commitAll(dir);
    const { names, notes } = await pack(dir, baseEnv({ PATH: '/nonexistent' }));
    assert.deepEqual(names, ['.env', '.gitignore', 'app.js']);
    assert.match(notes[0] ?? '', /git is not installed .*: \.gitignore is not applied/);
  });

  const root = process.getuid?.() === 0;
  test('a repository git refuses to read fails the pack with git’s reason, never falls back', {
    skip: !root && 'needs root to chown',
  }, async () => {
    const dir = tree({ '.gitignore': '.env\n', '.env': 'SECRET=1\n', 'app.js': 'x\n' });
    await commitAll(dir);
    execFileSync('chown', ['-R', '12345:12345', dir]); // not ours: git's safe.directory check
    await assert.rejects(
      packDirectory(dir, baseEnv({ GIT_CONFIG_NOSYSTEM: '1' })),
      (err: unknown) => err instanceof CliError && /dubious ownership/.test(err.message),
    );
  });
});
