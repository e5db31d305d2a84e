// `npm start`'s prestart (bin/build-if-stale) in a copy of the project's
// shape: it builds when dist/ is missing or older than what it is made from,
// and not when dist/ is fresh.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { baseEnv, ROOT } from '../helpers/slipway.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-prestart-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the prestart as npm would, in the copy; what it printed. */
async function prestart(): Promise<string> {
  const lines: string[] = [];
  const result = await runProcess([path.join(dir, 'bin', 'build-if-stale')], {
    cwd: dir,
    env: baseEnv(),
    onLine: (_stream, line) => lines.push(line),
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, lines.join('\n'));
  return lines.join('\n');
}

function age(file: string, seconds: number): void {
  const when = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(path.join(dir, file), when, when);
}

test('builds when dist/ is missing or stale, and only then', async () => {
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'src'));
  fs.copyFileSync(path.join(ROOT, 'bin', 'build-if-stale'), path.join(dir, 'bin', 'build-if-stale'));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'shape',
      private: true,
      scripts: { build: 'mkdir -p dist && echo BUILT && touch dist/.built' },
    }),
  );
  for (const file of ['src/main.ts', 'bin/bundle.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']) {
    fs.writeFileSync(path.join(dir, file), '{}\n');
    age(file, 60);
  }
  assert.match(await prestart(), /BUILT/, 'no dist/ yet');
  assert.match(await prestart(), /dist\/ is up to date: not rebuilding/);
  assert.doesNotMatch(await prestart(), /BUILT/);

  for (const file of ['src/main.ts', 'package-lock.json']) {
    age('dist/.built', 30);
    fs.writeFileSync(path.join(dir, file), '{"edited": true}\n');
    assert.match(await prestart(), /BUILT/, `${file} edited after the build`);
    assert.doesNotMatch(await prestart(), /BUILT/);
  }
});
