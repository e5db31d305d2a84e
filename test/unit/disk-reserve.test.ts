// The server's disk reserve: the setting (bytes or a percentage), the check
// that refuses new work under it and the one that refuses a source that would
// not fit, and how a full disk reaches a user (507, exit code 9), whatever
// wrote it (file system or database).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpStatusOf } from '../../src/api/error-status.ts';
import { EXIT, exitCodeOf } from '../../src/cli/exit-codes.ts';
import { loadSettings, parseDiskReserve } from '../../src/config/settings.ts';
import { diskFull, isOutOfSpace, isSlipwayError } from '../../src/core/errors.ts';
import { diskSpace } from '../../src/pipeline/disk-reserve.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A file system of `size` bytes with `free` available, in 4 KiB blocks. */
const fakeStatfs = (size: number, free: number) => () => ({ bsize: 4096, blocks: size / 4096, bavail: free / 4096 });

test('SLIPWAY_DISK_RESERVE: 1 GiB by default, a size, a percentage, or 0; anything else names the variable', () => {
  assert.deepEqual(loadSettings({}, {}, '/srv').diskReserve, { bytes: GiB });
  assert.deepEqual(loadSettings({}, { SLIPWAY_DISK_RESERVE: '500mb' }, '/srv').diskReserve, { bytes: 500 * MiB });
  assert.deepEqual(loadSettings({ diskReserve: '5%' }, {}, '/srv').diskReserve, { percent: 5 });
  assert.deepEqual(parseDiskReserve('0'), { bytes: 0 });
  assert.deepEqual(parseDiskReserve('2.5%'), { percent: 2.5 });
  assert.throws(() => loadSettings({}, { SLIPWAY_DISK_RESERVE: 'lots' }, '/srv'), /SLIPWAY_DISK_RESERVE/);
  assert.throws(() => parseDiskReserve('95%'), /at most 90%/);
});

test('under the reserve, new work is refused with disk.reserve_reached and the figures', () => {
  const disk = diskSpace('/srv', { bytes: GiB }, fakeStatfs(10 * GiB, 900 * MiB));
  assert.throws(
    () => disk.check('the deployment'),
    (err: unknown) =>
      isSlipwayError(err, 'disk.reserve_reached') &&
      /the deployment refused: the server's disk is nearly full \(900\.0 MiB free, 1\.00 GiB kept for the server\)/.test(
        (err as Error).message,
      ),
  );
  const roomy = diskSpace('/srv', { bytes: GiB }, fakeStatfs(10 * GiB, 2 * GiB));
  roomy.check('the deployment');
  // What is about to be written counts: a 1.5 GiB upload does not fit above the reserve.
  assert.throws(
    () => roomy.check('the deployment', 1.5 * GiB),
    (err: unknown) => isSlipwayError(err, 'disk.reserve_reached'),
  );
});

test('a percentage reserve is of the file system’s size; 0 refuses only what does not fit at all', () => {
  const percent = diskSpace('/srv', { percent: 5 }, fakeStatfs(100 * GiB, 4 * GiB));
  assert.equal(percent.usage().reserve, 5 * GiB);
  assert.throws(
    () => percent.check('git push'),
    (err: unknown) => isSlipwayError(err, 'disk.reserve_reached'),
  );
  const none = diskSpace('/srv', { bytes: 0 }, fakeStatfs(GiB, 10 * MiB));
  none.check('the deployment');
  assert.throws(
    () => none.checkRoom('unpacking the source', 30 * MiB),
    (err: unknown) =>
      isSlipwayError(err, 'disk.full') &&
      /^disk full: unpacking the source does not fit on the server's disk \(10\.0 MiB free, 30\.0 MiB needed\)/.test(
        (err as Error).message,
      ),
  );
});

test('a write that found no room, from the file system or a database, is disk.full: 507 and exit code 9', () => {
  for (const code of ['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']) {
    assert.ok(isOutOfSpace(Object.assign(new Error('full'), { code })), code);
  }
  assert.equal(isOutOfSpace(Object.assign(new Error('gone'), { code: 'ENOENT' })), false);
  assert.match(diskFull('the archive').message, /^disk full: the server had no room left for the archive/);
  for (const code of ['disk.full', 'disk.reserve_reached']) {
    assert.equal(httpStatusOf(code), 507);
    assert.equal(exitCodeOf(code), EXIT.diskFull);
  }
  assert.equal(EXIT.diskFull, 9);
});
