// What the CLI prints when something is wrong, through the real binary as a
// user's shell runs it: every error message is one `error: ...` ending with a
// newline (never a stack trace), and no output ever shows a password or a
// token inside a URL, whether the URL is the server's or a source's.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { BIN, baseEnv, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';

const SECRET = 's3cret-Passw0rd';

/** bin/slipway with raw stdout and stderr (a line-splitting reader would hide a missing newline). */
async function slipwayRaw(args: string[], env: Record<string, string>, cwd: string) {
  let stdout = '';
  let stderr = '';
  const result = await runProcess([BIN, ...args], {
    cwd,
    env,
    onData: (stream, chunk) => {
      if (stream === 'stdout') stdout += chunk.toString('utf8');
      else stderr += chunk.toString('utf8');
    },
    timeoutMs: 60_000,
  });
  return { code: result.code, stdout, stderr };
}

describe('CLI messages', () => {
  let slipway: Slipway;
  let home = '';
  let env: Record<string, string> = {};
  const withCredentials = () => slipway.apiUrl.replace('http://', `http://admin:${SECRET}@`);

  before(async () => {
    slipway = await startSlipway();
    assert.equal((await slipway.cli(['apps:create', 'known'])).code, 0);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-user-'));
    env = baseEnv({ HOME: home, SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN });
  });
  after(async () => {
    await slipway?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('every error is one error: line ending with a newline, with its exit code', async () => {
    const notAGitRepo = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-plain-'));
    const cases: { args: string[]; env?: Record<string, string>; code: number }[] = [
      { args: ['no-such-command'], code: 2 },
      { args: ['apps:info'], code: 2 }, // no app given
      { args: ['apps:info', '-a', 'missing'], code: 4 },
      { args: ['apps:create', 'Bad Name!'], code: 6 },
      { args: ['env:set', 'NOEQUALS', '-a', 'known'], code: 2 },
      { args: ['deploy', '/no/such/dir', '-a', 'known'], code: 2 },
      { args: ['git:remote', '-a', 'known'], code: 2 }, // not in a git repository
      { args: ['apps'], env: { SLIPWAY_TOKEN: 'wrong-token' }, code: 3 },
      { args: ['apps'], env: { SLIPWAY_TOKEN: '' }, code: 3 }, // not logged in
      { args: ['apps'], env: { SLIPWAY_URL: 'http://127.0.0.1:9' }, code: 8 },
      { args: ['apps'], env: { SLIPWAY_URL: 'not a url' }, code: 2 },
      { args: ['server', '--port', 'many'], code: 6 },
    ];
    try {
      for (const c of cases) {
        const result = await slipwayRaw(c.args, { ...env, ...c.env }, notAGitRepo);
        const what = `slipway ${c.args.join(' ')} ${JSON.stringify(c.env ?? {})}:\n${result.stderr}`;
        assert.equal(result.code, c.code, what);
        assert.match(result.stderr, /^error: /m, what);
        assert.ok(result.stderr.endsWith('\n'), `ends with a newline: ${what}`);
        assert.doesNotMatch(result.stderr, /^\s+at /m, `no stack trace: ${what}`);
      }
    } finally {
      fs.rmSync(notAGitRepo, { recursive: true, force: true });
    }
  });

  test('destructive commands run only when --confirm repeats the app name, saying what would be lost', async () => {
    const cases: [string[], string][] = [
      [['apps:destroy', '-a', 'known'], 'this destroys known and everything in it'],
      [
        ['addons:destroy', 'DATABASE', '-a', 'known', '--confirm', 'other'],
        'this destroys DATABASE of known and all its data',
      ],
      [['volumes:remove', '/app/data', '-a', 'known'], 'this deletes the volume /app/data of known and all its data'],
      [
        ['pg:backups:restore', 'b-1', '-a', 'known', '--confirm', 'KNOWN'],
        'this replaces a database of known with backup b-1, losing what was written since',
      ],
    ];
    for (const [args, consequence] of cases) {
      const result = await slipwayRaw(args, env, home);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stderr, `error: ${consequence}: run again with --confirm known\n`);
    }
    assert.equal((await slipwayRaw(['apps:info', '-a', 'known'], env, home)).code, 0, 'the app is still there');
  });

  test('a server URL with a password is refused without showing it: login, SLIPWAY_URL', async () => {
    const login = await slipwayRaw(['login', '--url', withCredentials(), '--token', TOKEN], env, home);
    const apps = await slipwayRaw(['apps'], { ...env, SLIPWAY_URL: withCredentials() }, home);
    for (const result of [login, apps]) {
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /must not contain a user name or password/);
      assert.match(result.stderr, new RegExp(`error: ${slipway.apiUrl}/?: `));
      assert.doesNotMatch(result.stdout + result.stderr, new RegExp(SECRET));
    }
    assert.equal(fs.existsSync(path.join(home, '.config', 'slipway', 'credentials.json')), false);
  });

  test('deploying from a URL with credentials never shows them, whatever happens to it', async () => {
    const sources = [
      `https://deployer:${SECRET}@127.0.0.1:9/app.tar.gz`, // refused: not a public address
      `https://${SECRET}@127.0.0.1:9/app.git`, // a token as the user name
      `https://deployer:${SECRET}@exa mple.invalid/app.tar.gz`, // not even a URL
    ];
    for (const source of sources) {
      const result = await slipwayRaw(['deploy', source, '-a', 'known'], env, home);
      assert.notEqual(result.code, 0, result.stdout + result.stderr);
      assert.ok(result.stderr.endsWith('\n'), result.stderr);
      assert.doesNotMatch(result.stdout + result.stderr, new RegExp(SECRET), result.stdout + result.stderr);
    }
  });
});
