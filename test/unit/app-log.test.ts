// App logs: what `slipway logs` reads back (the latest N lines, by process
// type), follow without gaps or repeats, and the per-app size cap.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { AppLogs, type LogEntry } from '../../src/logs/app-log.ts';
import { parseEntry, sourceMatcher } from '../../src/logs/app-log-reader.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-app-logs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(root, `t${n++}`);
const text = (entries: readonly LogEntry[]) => entries.map((e) => `${e.source}: ${e.line}`);

test('entries come back with time and source, latest N, filtered by type or container', async () => {
  const logs = new AppLogs(freshDir());
  logs.write('shop', 'web-1', 'one');
  logs.write('shop', 'worker-1', 'two');
  logs.write('shop', 'web-12', 'three');
  logs.write('shop', 'router', 'method=GET path=/ status=200');
  logs.write('shop', 'webby-1', 'not web');
  logs.write('other', 'web-1', 'other app');

  const all = await logs.read('shop', { lines: 100 });
  assert.deepEqual(text(all), [
    'web-1: one',
    'worker-1: two',
    'web-12: three',
    'router: method=GET path=/ status=200',
    'webby-1: not web',
  ]);
  assert.ok(all.every((e) => !Number.isNaN(Date.parse(e.time))));
  assert.deepEqual(text(await logs.read('shop', { lines: 2 })), [
    'router: method=GET path=/ status=200',
    'webby-1: not web',
  ]);
  assert.deepEqual(text(await logs.read('shop', { lines: 100, type: 'web' })), ['web-1: one', 'web-12: three']);
  assert.deepEqual(text(await logs.read('shop', { lines: 1, type: 'web' })), ['web-12: three']);
  assert.deepEqual(text(await logs.read('shop', { lines: 100, type: 'web-1' })), ['web-1: one']);
  assert.deepEqual(text(await logs.read('shop', { lines: 100, type: 'router' })), [
    'router: method=GET path=/ status=200',
  ]);
  assert.deepEqual(await logs.read('nobody', { lines: 10 }), []);
  await logs.close();
});

test('multi-line text becomes several entries; an overlong line is cut', async () => {
  const logs = new AppLogs(freshDir(), { maxLineChars: 10 });
  logs.write('shop', 'slipway', 'first\nsecond');
  logs.write('shop', 'web-1', 'x'.repeat(50));
  assert.deepEqual(text(await logs.read('shop', { lines: 10 })), [
    'slipway: first',
    'slipway: second',
    `web-1: ${'x'.repeat(10)}…`,
  ]);
  await logs.close();
});

test('a chatty app cannot grow its log past the cap: one previous file is kept', async () => {
  const dir = freshDir();
  const maxBytes = 8 * 1024;
  const logs = new AppLogs(dir, { maxBytes });
  for (let i = 0; i < 5000; i++) logs.write('chatty', 'web-1', `line ${i} ${'.'.repeat(i % 40)}`);
  await logs.close();
  const files = fs.readdirSync(path.join(dir, 'chatty')).sort();
  assert.deepEqual(files, ['app.log', 'app.log.1']);
  const [current = 0, previous = 0] = files.map((f) => fs.statSync(path.join(dir, 'chatty', f)).size);
  assert.ok(current <= maxBytes / 2 && previous <= maxBytes / 2 && previous > 0, `sizes ${current} ${previous}`);
  assert.ok(current + previous <= maxBytes);

  // The newest lines survive, across both files, in order; the oldest are gone.
  const reopened = new AppLogs(dir, { maxBytes });
  const all = await reopened.read('chatty', { lines: 100_000 });
  const numbers = all.map((e) => Number(/^line (\d+)/.exec(e.line)?.[1]));
  assert.equal(numbers.at(-1), 4999);
  const [oldest = 0] = numbers;
  assert.ok(oldest > 4000, `oldest kept is line ${oldest}`);
  assert.deepEqual(
    numbers,
    numbers.map((_, i) => oldest + i),
  );

  // A restarted server keeps counting from the file's size: the cap still holds.
  for (let i = 0; i < 500; i++) reopened.write('chatty', 'web-1', `more ${i}`);
  await reopened.close();
  const total = fs
    .readdirSync(path.join(dir, 'chatty'))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, 'chatty', f)).size, 0);
  assert.ok(total <= maxBytes, `total ${total}`);
});

test('the last N of a large log are found across chunk boundaries', async () => {
  const logs = new AppLogs(freshDir());
  for (let i = 0; i < 20_000; i++) logs.write('big', i % 2 ? 'worker-1' : 'web-1', `entry ${i} ${'é'.repeat(i % 7)}`);
  const last = await logs.read('big', { lines: 3000, type: 'web' });
  assert.equal(last.length, 3000);
  assert.equal(last[0]?.line, `entry ${20_000 - 6000} ${'é'.repeat((20_000 - 6000) % 7)}`);
  assert.equal(last.at(-1)?.line, `entry 19998 ${'é'.repeat(19998 % 7)}`);
  await logs.close();
});

test('follow replays the history then every later line, once each, even across a rotation', async () => {
  const logs = new AppLogs(freshDir(), { maxBytes: 4096 });
  for (let i = 0; i < 10; i++) logs.write('shop', 'web-1', `old ${i}`);
  const seen: string[] = [];
  const following = logs.follow('shop', { lines: 3, type: 'web' }, (e) => seen.push(e.line));
  // Written while the history is still being read: must come after it, once.
  for (let i = 0; i < 5; i++) logs.write('shop', 'web-1', `during ${i}`);
  logs.write('shop', 'router', 'not for this follower');
  const stop = await following;
  for (let i = 0; i < 200; i++) logs.write('shop', 'web-2', `after ${i}`); // rotates several times
  stop();
  logs.write('shop', 'web-1', 'after stop');
  assert.deepEqual(seen, [
    'old 7',
    'old 8',
    'old 9',
    ...Array.from({ length: 5 }, (_, i) => `during ${i}`),
    ...Array.from({ length: 200 }, (_, i) => `after ${i}`),
  ]);
  await logs.close();
});

test('the on-disk format parses back, and type filters match whole names', () => {
  assert.deepEqual(parseEntry('2026-01-02T03:04:05.678Z web-1: hello: world'), {
    time: '2026-01-02T03:04:05.678Z',
    source: 'web-1',
    line: 'hello: world',
  });
  assert.equal(parseEntry('garbage').source, 'unknown');
  const web = sourceMatcher('web');
  assert.deepEqual(['web', 'web-1', 'web-10', 'web-x', 'webby-1', 'worker-1', 'web-'].map(web), [
    true,
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
});

test('lines the disk cannot keep up with are dropped and counted, not held in memory', async () => {
  const logs = new AppLogs(freshDir(), { maxQueuedBytes: 2000 });
  for (let i = 0; i < 1000; i++) logs.write('flood', 'web-1', `flood ${i}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  logs.write('flood', 'web-1', 'calm again');
  const entries = await logs.read('flood', { lines: 10_000 });
  assert.ok(entries.length < 200, `${entries.length} lines kept`);
  const note = entries.at(-2);
  assert.equal(note?.source, 'slipway');
  const dropped = Number(/^(\d+) log lines dropped/.exec(note?.line ?? '')?.[1]);
  assert.equal(dropped + entries.length - 2, 1000);
  assert.equal(entries.at(-1)?.line, 'calm again');
  await logs.close();
});

test('destroying an app ends its followers and removes its files', async () => {
  const dir = freshDir();
  const logs = new AppLogs(dir);
  logs.write('gone', 'web-1', 'hello');
  const seen: string[] = [];
  let ended = false;
  await logs.follow(
    'gone',
    { lines: 10 },
    (e) => seen.push(e.line),
    () => {
      ended = true;
    },
  );
  await logs.remove('gone');
  assert.equal(ended, true);
  assert.equal(fs.existsSync(path.join(dir, 'gone')), false);
  logs.write('gone', 'web-1', 'after');
  assert.deepEqual(seen, ['hello']);
  await logs.close();
});
