// Every Slipway home on a host gives its apps uids of its own: ranges are
// claimed in a shared registry (real files in a temp directory here), kept
// by their home, taken over when their home is gone, never handed out twice.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { claimUidRange, UID_RANGE_SIZE, uidRangeAt } from '../../src/runtime/uid-range.ts';

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-uids-'));

test('two homes get two ranges; a home keeps its own', async () => {
  const registry = path.join(scratch(), 'registry');
  const [a, b] = [scratch(), scratch()];
  const first = await claimUidRange(a, registry);
  const second = await claimUidRange(b, registry);
  assert.deepEqual([first.index, second.index], [0, 1]);
  assert.deepEqual(first.range, { first: 20_001, last: 30_000 }, 'range 0 is what homes used before ranges');
  assert.equal(second.range.first, first.range.last + 1);
  assert.equal((await claimUidRange(a, registry)).index, 0);
  assert.equal((await claimUidRange(b, registry)).index, 1);
  assert.equal(fs.readFileSync(path.join(a, 'uid-range'), 'utf8').trim(), '0');
});

test('homes claiming at once never share a range', async () => {
  const registry = path.join(scratch(), 'registry');
  const homes = Array.from({ length: 8 }, scratch);
  const claims = await Promise.all(homes.map((home) => claimUidRange(home, registry)));
  assert.equal(new Set(claims.map((c) => c.index)).size, homes.length);
  assert.ok(claims.every((c) => c.warning === undefined));
});

test('a range whose home is gone is taken over; one held by a living home is not', async () => {
  const registry = path.join(scratch(), 'registry');
  const gone = scratch();
  const living = scratch();
  assert.equal((await claimUidRange(gone, registry)).index, 0);
  assert.equal((await claimUidRange(living, registry)).index, 1);
  fs.rmSync(gone, { recursive: true });
  assert.equal((await claimUidRange(scratch(), registry)).index, 0);
  // A home whose record names a range another living home holds is told so.
  const copied = scratch();
  fs.writeFileSync(path.join(copied, 'uid-range'), '1\n');
  const claim = await claimUidRange(copied, registry);
  assert.equal(claim.index, 1);
  assert.match(claim.warning ?? '', /also claimed by the Slipway home/);
});

test('ranges do not overlap', () => {
  for (let i = 0; i < 100; i++) {
    assert.equal(uidRangeAt(i + 1).first, uidRangeAt(i).last + 1);
    assert.equal(uidRangeAt(i).last - uidRangeAt(i).first + 1, UID_RANGE_SIZE);
  }
});
