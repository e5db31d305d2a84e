// The Procfile-only fast path decides as the built-ins' detection would, in
// their order, without running the app's own scripts.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { builtinFolder, defaultBuiltinDir } from '../../src/build/fetch-buildpack.ts';
import { nothingToBuild } from '../../src/build/nothing-to-build.ts';
import { BUILTIN_BUILDPACKS } from '../../src/core/buildpack-spec.ts';

const builtins = BUILTIN_BUILDPACKS.flatMap((name) => {
  const dir = builtinFolder({ builtinDir: defaultBuiltinDir(), allowLocal: false }, name);
  return dir === null ? [] : [{ label: name, dir, cacheKey: name }];
});

function app(files: Record<string, string | { text: string; mode: number }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-detect-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { text, mode } = typeof content === 'string' ? { text: content, mode: 0o644 } : content;
    fs.writeFileSync(file, text, { mode });
  }
  return dir;
}

test('a Procfile and nothing another built-in detects: nothing to build', async () => {
  assert.equal(await nothingToBuild(app({ Procfile: 'web: ./server\n', server: 'x' }), builtins), true);
});

test('anything an earlier built-in detects, or no Procfile: the buildpacks run', async () => {
  assert.equal(await nothingToBuild(app({ Procfile: 'web: npm start\n', 'package.json': '{}' }), builtins), false);
  // The inline buildpack's rule, checked without running the app's script (which would say "no").
  const witness = path.join(os.tmpdir(), `slipway-detect-ran-${process.pid}`);
  const inline = app({
    Procfile: 'web: ./server\n',
    'bin/detect': { text: `#!/bin/sh\ntouch ${witness}\nexit 1\n`, mode: 0o755 },
  });
  assert.equal(await nothingToBuild(inline, builtins), false);
  assert.equal(fs.existsSync(witness), false, "the app's bin/detect never runs on the host");
  assert.equal(await nothingToBuild(app({ 'bin/compile': { text: '#!/bin/sh\n', mode: 0o755 } }), builtins), false);
  // Not executable: not an inline buildpack.
  assert.equal(await nothingToBuild(app({ Procfile: 'web: x\n', 'bin/compile': 'echo' }), builtins), true);
  assert.equal(await nothingToBuild(app({ 'index.txt': 'x' }), builtins), false);
});
