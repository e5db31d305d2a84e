// How the CLI names itself in what it prints for a user to run (the server's
// `slipway login` line): as the PATH finds it, else by a path that works from
// where the user is.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SLIPWAY_BIN, selfCommand, shellQuote } from '../../src/cli/self-command.ts';
import { ROOT } from '../helpers/slipway.ts';

test('is ./bin/slipway from the checkout when no slipway is on the PATH', () => {
  assert.equal(SLIPWAY_BIN, path.join(ROOT, 'bin', 'slipway'));
  assert.equal(selfCommand({ PATH: '/usr/bin:/bin' }, ROOT), './bin/slipway');
  assert.equal(selfCommand({ PATH: '/usr/bin:/bin' }, path.join(ROOT, 'bin')), './slipway');
});

// A directory outside the checkout, whatever holds the checkout (in CI, a clone may sit in /tmp).
const ELSEWHERE = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-elsewhere-'));

test('is the absolute path from anywhere else', () => {
  assert.equal(selfCommand({ PATH: '/usr/bin' }, ELSEWHERE), SLIPWAY_BIN);
  assert.equal(selfCommand({}, path.join(ROOT, 'src')), SLIPWAY_BIN);
});

test('is slipway when the PATH finds this one (npm link), not when it finds another', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-path-'));
  try {
    const linked = path.join(dir, 'linked');
    const other = path.join(dir, 'other');
    fs.mkdirSync(linked);
    fs.mkdirSync(other);
    fs.symlinkSync(SLIPWAY_BIN, path.join(linked, 'slipway'));
    fs.writeFileSync(path.join(other, 'slipway'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(selfCommand({ PATH: `/usr/bin:${linked}` }, ELSEWHERE), 'slipway');
    assert.equal(selfCommand({ PATH: `${other}:/usr/bin` }, ELSEWHERE), SLIPWAY_BIN);
    assert.equal(selfCommand({ PATH: `${other}:${linked}` }, ELSEWHERE), SLIPWAY_BIN, 'the first one found runs');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('quotes a path the shell would split or expand', () => {
  assert.equal(shellQuote('/opt/my apps/bin/slipway'), "'/opt/my apps/bin/slipway'");
  assert.equal(shellQuote("/o'brien/$HOME"), "'/o'\\''brien/$HOME'");
  assert.equal(shellQuote('./bin/slipway'), './bin/slipway');
});
