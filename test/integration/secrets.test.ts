// Slipway never prints config values itself: not in its own log (at debug
// level), not in deployment logs, not in CLI output or error messages. What
// an app or a hook prints is its own business, so the fixture prints nothing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureCopy, type Slipway, startSlipway } from '../helpers/slipway.ts';

const SECRET = 'sk_live_5ecr3t-value-that-must-not-leak';

describe('config values stay secret', () => {
  let slipway: Slipway;
  const outputs: string[] = [];
  const cli = async (args: string[]) => {
    const result = await slipway.cli(args);
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  before(async () => {
    slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    await slipway?.stop();
  });

  test('through deployments, config changes, rollbacks and errors', async () => {
    assert.equal((await cli(['apps:create', 'vault'])).code, 0);
    assert.equal((await cli(['env:set', `API_SECRET=${SECRET}`, '-a', 'vault'])).code, 0);
    assert.equal((await cli(['deploy', fixtureCopy('web-worker-hook'), '-a', 'vault'])).code, 0);
    assert.equal((await cli(['env:set', `OTHER=${SECRET}-2`, `API_SECRET=${SECRET}-3`, '-a', 'vault'])).code, 0);
    assert.equal((await cli(['rollback', 'v1', '-a', 'vault'])).code, 0);
    assert.equal((await cli(['env:set', `BAD-KEY=${SECRET}`, '-a', 'vault'])).code, 6);
    const tooLong = await slipway.api('PATCH', '/api/apps/vault/env', { BIG: `${SECRET}${'x'.repeat(40_000)}` });
    outputs.push(JSON.stringify(tooLong.json));
    assert.equal(tooLong.status, 422);
    assert.equal((await cli(['deployments', '-a', 'vault'])).code, 0);
    assert.equal((await cli(['releases', '-a', 'vault'])).code, 0);

    const logsDir = path.join(slipway.home, 'logs', 'deployments');
    for (const file of fs.readdirSync(logsDir)) outputs.push(fs.readFileSync(path.join(logsDir, file), 'utf8'));
    outputs.push(...slipway.serverOutput);
    assert.ok(slipway.serverOutput.length > 0, 'the server logged at debug level');
    const leaks = outputs.filter((text) => text.includes(SECRET));
    assert.deepEqual(leaks, [], 'no output of Slipway contains the value');
    // The value did reach the app: it is the app's own to print.
    const env = await cli(['env', '-a', 'vault', '--json']);
    assert.equal(JSON.parse(env.stdout).API_SECRET, SECRET, "v1's, which the rollback restored");
  });
});
