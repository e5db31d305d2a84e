// `bin/slipway git:credentials get`, as git runs it at every push: answered by
// the shell (no node start) from SLIPWAY_TOKEN or the stored login, with the
// same answer as the CLI's own; anything the shell cannot read goes to the
// CLI, which says what is wrong.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { saveCredentials } from '../../src/cli/credentials.ts';
import { credentialAnswer } from '../../src/cli/git-credentials.ts';
import { runProcess } from '../../src/exec/index.ts';
import { BIN, baseEnv } from '../helpers/slipway.ts';

async function get(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const result = await runProcess([BIN, 'git:credentials', 'get'], {
    env,
    // What git writes to its helper.
    stdin: Readable.from(['protocol=http\nhost=127.0.0.1:5100\npath=git/app.git\n\n']),
    onLine: (stream, line) => (stream === 'stdout' ? out : err).push(line),
    timeoutMs: 30_000,
  });
  return { code: result.code, stdout: out.join('\n'), stderr: err.join('\n') };
}

test('the token comes from SLIPWAY_TOKEN, else from the stored login, as the CLI would answer', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cred-'));
  const env = baseEnv({ HOME: home });
  saveCredentials(env, { url: 'http://127.0.0.1:5100', token: 'slw_Abc-123_xyz' });
  const stored = await get(env);
  assert.deepEqual(stored, { code: 0, stdout: credentialAnswer(env), stderr: '' });
  assert.equal(stored.stdout, 'username=slipway\npassword=slw_Abc-123_xyz');

  const fromEnv = await get({ ...env, SLIPWAY_TOKEN: 'from-the-env' });
  assert.equal(fromEnv.stdout, 'username=slipway\npassword=from-the-env');

  const xdg = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-xdg-'));
  saveCredentials({ ...env, XDG_CONFIG_HOME: xdg }, { url: 'http://127.0.0.1:5100', token: 'slw_xdg' });
  assert.equal((await get({ ...env, XDG_CONFIG_HOME: xdg })).stdout, 'username=slipway\npassword=slw_xdg');
});

test('without a login, or with a file the shell cannot read, the CLI answers and says why', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cred-'));
  const none = await get(baseEnv({ HOME: home }));
  assert.equal(none.code, 3);
  assert.match(none.stderr, /^error: not logged in: run `slipway login/);

  // A login written by hand on one line: not the shell's format, still the CLI's.
  const file = path.join(home, '.config', 'slipway', 'credentials.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '{"url":"http://127.0.0.1:5100","token":"slw_one_line"}');
  assert.equal((await get(baseEnv({ HOME: home }))).stdout, 'username=slipway\npassword=slw_one_line');
  fs.writeFileSync(file, '{"url": ');
  const broken = await get(baseEnv({ HOME: home }));
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /is not valid JSON: run slipway login again/);
});
