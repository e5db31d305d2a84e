// `deployments:cancel` answers promptly whatever step the deployment is in:
// a long build (npm run build), a boot waiting for a web process that never
// listens, a long hook, and (held there by the chaos failpoint) the fetch and
// slug steps. Each ends `aborted` at that step, with nothing of it left
// running. The unpacking itself stopping on an abort is shown in
// test/unit/extract-disk-full.test.ts.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { processesWith } from '../helpers/runtime-helpers.ts';
import { fixtureCopy, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';

/** A cancel must answer within this long (steps stop within seconds of their abort). */
const PROMPT_MS = 3000;
const LOCKFILE = JSON.stringify({
  name: 'slow',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: { '': { name: 'slow', version: '1.0.0' } },
});

/** `sleep` with an argument no other process has, to find it on the host. */
const sleepMarker = () => `600.${process.pid}${randomInt(100_000, 999_999)}`;

/**
 * Deploys `files` (over a copy of the run-files app) in the background, waits
 * until the deployment is at `step` (and `ready`, if given), cancels it and
 * checks the answer came promptly and says `aborted` at that step.
 */
async function cancelDuring(
  slipway: Slipway,
  app: string,
  step: string,
  files: Record<string, string>,
  ready: () => Promise<boolean> = async () => true,
) {
  assert.equal((await slipway.cli(['apps:create', app])).code, 0);
  const deploying = slipway.cli(['deploy', fixtureCopy('run-files', files), '-a', app]);
  const running = await waitForValue(
    async () => {
      const { json } = await slipway.api('GET', `/api/apps/${app}/deployments`);
      return json[0]?.step === step && !json[0].finished_at && (await ready()) ? json[0] : undefined;
    },
    `the deployment to be at step ${step}`,
    90_000,
  );
  const started = Date.now();
  const { status, json } = await slipway.api('POST', `/api/apps/${app}/deployments/${running.id}/cancel`);
  const took = Date.now() - started;
  assert.equal(status, 200, JSON.stringify(json));
  assert.ok(took < PROMPT_MS, `the cancel at step ${step} took ${took} ms`);
  assert.equal(json.status, 'aborted', JSON.stringify(json));
  assert.equal(json.step, step);
  assert.match(json.error.message, /cancelled by admin/);
  const result = await deploying;
  assert.equal(result.code, 7, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stderr, new RegExp(`aborted at step ${step}`));
}

describe('cancelling a deployment in each long step', () => {
  let slipway: Slipway;

  before(async () => {
    slipway = await startSlipway({ args: ['--boot-timeout', '120s', '--hook-timeout', '120s'] });
  });
  after(async () => {
    await slipway?.stop();
  });

  test('during a long build: the build is killed', async () => {
    const marker = sleepMarker();
    await cancelDuring(
      slipway,
      'slow-build',
      'build',
      {
        'package.json': JSON.stringify({ name: 'slow', version: '1.0.0', scripts: { build: `sleep ${marker}` } }),
        'package-lock.json': LOCKFILE,
      },
      async () => (await processesWith(marker)).length > 0,
    );
    await waitFor(async () => (await processesWith(marker)).length === 0, 'the build to be killed', 5000);
  });

  test('during a boot that waits for a web process that never listens: it is stopped', async () => {
    const marker = sleepMarker();
    await cancelDuring(
      slipway,
      'slow-boot',
      'boot',
      { Procfile: `web: sleep ${marker}\n` },
      async () => (await processesWith(marker)).length > 0,
    );
    await waitFor(async () => (await processesWith(marker)).length === 0, 'the web process to stop', 10_000);
  });

  test('during a long hook: its process tree is killed', async () => {
    const marker = sleepMarker();
    await cancelDuring(
      slipway,
      'slow-hook',
      'hook',
      { Procfile: `web: node server.js\npostdeploy: sleep ${marker}\n` },
      async () => (await processesWith(marker)).length > 0,
    );
    await waitFor(async () => (await processesWith(marker)).length === 0, 'the hook to be killed', 5000);
  });

  for (const step of ['fetch', 'slug'] as const) {
    test(`during the ${step} step (held there by the chaos failpoint)`, async () => {
      const held = await startSlipway({ env: { SLIPWAY_CHAOS_PAUSE: `${step}:120s` } });
      try {
        await cancelDuring(held, `held-${step}`, step, {});
      } finally {
        await held.stop();
      }
    });
  }
});
