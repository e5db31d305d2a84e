// Deployment statuses move forward only, and a finished deployment never
// changes status again.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorCode } from '../../src/core/errors.ts';
import {
  canTransition,
  DEPLOYMENT_STATUSES,
  type DeploymentStatus,
  FINAL_STATUSES,
  failureStatus,
  isFinal,
  STATUS_OF_STEP,
  STEPS,
} from '../../src/core/lifecycle.ts';

const ACTIVE: DeploymentStatus[] = ['queued', 'building', 'pushing', 'starting'];
const ERRORS: DeploymentStatus[] = ['build-error', 'crashed-error', 'timeout-error', 'hook-error', 'aborted'];

describe('statuses', () => {
  test('use Scalingo names', () => {
    assert.deepEqual([...DEPLOYMENT_STATUSES].sort(), [...ACTIVE, 'success', ...ERRORS].sort());
  });

  test('success and every error status are final; waiting and in-progress ones are not', () => {
    for (const s of ['success', ...ERRORS] as DeploymentStatus[]) assert.equal(isFinal(s), true, s);
    for (const s of ACTIVE) assert.equal(isFinal(s), false, s);
    assert.equal(FINAL_STATUSES.size, 6);
  });
});

describe('canTransition', () => {
  test('the normal path moves forward one status at a time', () => {
    assert.equal(canTransition('queued', 'building'), true);
    assert.equal(canTransition('building', 'pushing'), true);
    assert.equal(canTransition('pushing', 'starting'), true);
    assert.equal(canTransition('starting', 'success'), true);
  });

  test('skipping forward is allowed (a config change never builds)', () => {
    assert.equal(canTransition('queued', 'starting'), true);
    assert.equal(canTransition('queued', 'pushing'), true);
  });

  test('staying in the same active status is allowed', () => {
    for (const s of ACTIVE) assert.equal(canTransition(s, s), true, s);
  });

  test('never backwards', () => {
    for (let i = 0; i < ACTIVE.length; i++) {
      for (let j = 0; j < i; j++) {
        const from = ACTIVE[i] as DeploymentStatus;
        const to = ACTIVE[j] as DeploymentStatus;
        assert.equal(canTransition(from, to), false, `${from} -> ${to}`);
      }
    }
  });

  test('any active status can fail or be aborted', () => {
    for (const from of ACTIVE) {
      for (const to of ERRORS) assert.equal(canTransition(from, to), true, `${from} -> ${to}`);
    }
  });

  test('a final status never changes, not even to itself', () => {
    for (const from of FINAL_STATUSES) {
      for (const to of DEPLOYMENT_STATUSES) assert.equal(canTransition(from, to), false, `${from} -> ${to}`);
    }
  });
});

describe('failureStatus', () => {
  const cases: [ErrorCode, DeploymentStatus][] = [
    ['deploy.hook_failed', 'hook-error'],
    ['deploy.hook_timeout', 'hook-error'],
    ['deploy.crashed', 'crashed-error'],
    ['runtime.start_failed', 'crashed-error'],
    ['deploy.boot_timeout', 'timeout-error'],
    ['deploy.aborted', 'aborted'],
    ['build.failed', 'build-error'],
    ['procfile.invalid_line', 'build-error'],
    ['procfile.duplicate_type', 'build-error'],
    ['manifest.invalid', 'build-error'],
    ['source.invalid_archive', 'build-error'],
  ];
  for (const [code, status] of cases) {
    test(`${code} ends the deployment in ${status}`, () => {
      assert.equal(failureStatus(code), status);
    });
  }

  test('always a final status', () => {
    for (const [code] of cases) assert.equal(isFinal(failureStatus(code)), true, code);
  });
});

describe('steps', () => {
  test('run in DESIGN order', () => {
    assert.deepEqual([...STEPS], ['fetch', 'build', 'slug', 'release', 'boot', 'hook', 'switch', 'retire']);
  });

  test('map to the status a user sees while they run', () => {
    assert.deepEqual(STATUS_OF_STEP, {
      fetch: 'building',
      build: 'building',
      slug: 'pushing',
      release: 'pushing',
      boot: 'starting',
      hook: 'starting',
      switch: 'starting',
      retire: 'success',
    });
  });
});
