// The deployment log: append-only, and a follower that joins mid-way sees
// every line exactly once, in order, then the end.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DeploymentLogs } from '../../src/logs/deployment-log.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-logs-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('lines are on disk before followers hear of them, and survive a new instance', () => {
  const logs = new DeploymentLogs(dir);
  const seen: string[] = [];
  logs.follow(
    'd-1',
    (line) => {
      seen.push(line);
      assert.ok(fs.readFileSync(logs.file('d-1'), 'utf8').includes(line), 'written before announced');
    },
    () => {},
  );
  logs.append('d-1', 'one');
  logs.append('d-1', 'two\nthree');
  logs.finish('d-1');
  assert.deepEqual(seen, ['one', 'two', 'three']);
  assert.deepEqual(new DeploymentLogs(dir).read('d-1'), ['one', 'two', 'three']);
  assert.equal(fs.statSync(logs.file('d-1')).mode & 0o777, 0o600);
});

test('a follower joining mid-way replays, then follows, without gaps or repeats', () => {
  const logs = new DeploymentLogs(dir);
  for (let i = 0; i < 5; i++) logs.append('d-2', `early ${i}`);
  const seen: string[] = [];
  let ended = false;
  const stop = logs.follow(
    'd-2',
    (line) => {
      seen.push(line);
      // A line appended while the follower replays must still arrive exactly once.
      if (line === 'early 2') logs.append('d-2', 'during replay');
    },
    () => {
      ended = true;
    },
  );
  logs.append('d-2', 'late');
  logs.finish('d-2');
  stop();
  assert.deepEqual(seen, ['early 0', 'early 1', 'early 2', 'early 3', 'early 4', 'during replay', 'late']);
  assert.ok(ended);
});

test('appending after a restart continues the sequence (no replayed duplicates)', () => {
  const first = new DeploymentLogs(dir);
  first.append('d-3', 'before restart');
  const second = new DeploymentLogs(dir);
  const seen: string[] = [];
  second.follow(
    'd-3',
    (line) => seen.push(line),
    () => {},
  );
  second.append('d-3', 'after restart');
  assert.deepEqual(seen, ['before restart', 'after restart']);
  first.finish('d-3');
  second.finish('d-3');
});

test('build and hook output is capped per deployment; Slipway lines still get through', () => {
  const logs = new DeploymentLogs(dir, { maxOutputBytes: 100 });
  logs.append('d-cap', '-----> Running postdeploy hook');
  for (let i = 0; i < 50; i++) logs.appendOutput('d-cap', `chatty line ${i}`);
  logs.append('d-cap', '=====> Deployment failed (hook-error)');
  logs.finish('d-cap');
  const lines = logs.read('d-cap');
  const output = lines.filter((l) => l.startsWith('chatty'));
  assert.ok(output.length >= 5 && output.length < 10, `${output.length} output lines kept`);
  assert.equal(lines.filter((l) => l.includes('[slipway] output over 100 B')).length, 1, 'the cut is said once');
  assert.equal(lines.at(-1), '=====> Deployment failed (hook-error)');
});
