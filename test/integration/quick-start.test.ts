// The README's quick start, as a new user runs it on a machine without
// bubblewrap: `npm start` in a checkout (the home is the checkout's
// `.slipway/`, under Slipway's own package.json, `"type": "module"`), the
// `slipway login` line the server printed, run exactly as printed, then
// `./bin/slipway deploy examples/hello -a hello --create` from the checkout,
// and the app answering through the router.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { baseEnv, ROOT, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitForValue } from '../helpers/wait.ts';

/** Runs a command line in `sh`, as a user types it. */
async function shell(line: string, cwd: string, env: Record<string, string>) {
  const out: string[] = [];
  const result = await runProcess(['/bin/sh', '-c', line], {
    cwd,
    env,
    onLine: (_stream, text) => out.push(text),
    timeoutMs: 120_000,
  });
  return { code: result.code, output: out.join('\n') };
}

const REVISION = '(v1|[0-9a-f]{40}(-dirty)?)';

describe('the README quick start with the process runtime', () => {
  let slipway: Slipway;
  let checkout = '';
  let user: Record<string, string> = {};

  before(async () => {
    // A checkout's root as the server sees it: Slipway's own package.json above its home.
    checkout = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-checkout-'));
    fs.writeFileSync(path.join(checkout, 'package.json'), JSON.stringify({ name: 'slipway', type: 'module' }));
    slipway = await startSlipway({
      home: path.join(checkout, '.slipway'),
      cwd: checkout,
      args: ['--runtime', 'process'],
      env: { SLIPWAY_TOKEN: '' }, // a first start that generates the admin token and prints the login line
    });
    // A user with a fresh HOME and no `slipway` on the PATH (a checkout is not installed).
    user = baseEnv({ HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-user-')) });
  });
  after(async () => {
    await slipway?.stop();
    fs.rmSync(checkout, { recursive: true, force: true });
    if (user.HOME) fs.rmSync(user.HOME, { recursive: true, force: true });
  });

  test('the printed login line works as printed, from the directory the server was started in', async () => {
    const line = await waitForValue(
      () => slipway.serverOutput.map((l) => /^Log in with: (.+)$/.exec(l)?.[1]).find((l) => l !== undefined),
      'the login line',
      10_000,
    );
    const login = await shell(line, checkout, user);
    assert.equal(login.code, 0, `${line}\n${login.output}`);
    assert.match(login.output, new RegExp(`Logged in to ${slipway.apiUrl}`));
  });

  test('./bin/slipway deploy examples/hello deploys the example, which answers through the router', async () => {
    const deploy = await shell('./bin/slipway deploy examples/hello -a hello --create', ROOT, user);
    assert.equal(deploy.code, 0, deploy.output);
    // The checkout's commit (examples/hello is inside its git work tree), or v1 outside git.
    assert.match(deploy.output, new RegExp(`hello is ready at revision ${REVISION}$`, 'm'));
    assert.match(deploy.output, /succeeded: v1 is live/);
    const res = await routerGet(slipway.routerPort, 'hello.localhost');
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, new RegExp(`^Hello from hello \\(web-1, version ${REVISION}\\)\n$`));
  });
});
