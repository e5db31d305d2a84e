// Unpacking on a disk that fills up, and unpacking that is cancelled: both
// end within moments, with a clear error, and with no file left open (so the
// caller's cleanup really frees the space). Needs root for the small file
// system (tmpfs with size=); skipped otherwise, with the reason.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { c as createTar } from 'tar';
import { isSlipwayError } from '../../src/core/errors.ts';
import { extractTarball } from '../../src/source/index.ts';
import { mountSmallFs, type SmallFs, smallFsUnavailable } from '../helpers/small-fs.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = smallFsUnavailable();
const MiB = 1024 * 1024;

/** An archive of `count` files of `size` random bytes each (incompressible, so the gzip is as big). */
async function archiveOf(dir: string, count: number, size: number): Promise<string> {
  const src = fs.mkdtempSync(path.join(dir, 'src-'));
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), randomBytes(size));
  const file = path.join(dir, `a-${count}x${size}.tar.gz`);
  await createTar({ gzip: true, cwd: src, file, portable: true }, fs.readdirSync(src));
  return file;
}

const openFiles = () => fs.readdirSync('/proc/self/fd').length;

/** Every file the unpacking opened is closed (libuv closes a destroyed stream's file a moment later). */
async function allClosed(before: number): Promise<void> {
  await waitFor(() => openFiles() === before, 'a file of the archive was left open', 500);
}

/** Once the unpacking has ended, nothing of it writes any more: what is removed stays removed. */
async function removedForGood(dir: string): Promise<void> {
  fs.rmSync(dir, { recursive: true }); // throws (ENOTEMPTY) should a write race the removal
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(fs.existsSync(dir), false, 'a late write created the directory again');
}

describe('unpacking when the disk fills up or the deployment is cancelled', { skip }, () => {
  let small: SmallFs;
  let work: string;
  let big: string;
  let manySmall: string;

  before(async () => {
    small = await mountSmallFs(8 * MiB, 'tmpfs');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-extract-full-'));
    big = await archiveOf(work, 6, 4 * MiB); // 24 MiB unpacked, on 8 MiB
    manySmall = await archiveOf(work, 3000, 4096); // 12 MiB in many files: many writes under way at once
  });
  after(async () => {
    await small?.unmount();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  for (const [what, archive] of [
    ['a few big files', () => big],
    ['many small files', () => manySmall],
  ] as const) {
    test(`a disk that fills up ends the unpacking at once with disk.full, every file closed (${what})`, async () => {
      const dest = fs.mkdtempSync(path.join(small.dir, 'dest-'));
      const before = openFiles();
      const started = Date.now();
      await assert.rejects(extractTarball(archive(), dest, { maxBytes: 64 * MiB }), (err: unknown) => {
        assert.ok(isSlipwayError(err, 'disk.full'), String(err));
        assert.match((err as Error).message, /disk full/);
        return true;
      });
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      await allClosed(before);
      await removedForGood(dest);
      assert.ok(small.free() > 7 * MiB, 'removing the directory gave the space back');
    });
  }

  test('an abort stops the unpacking at once, with the abort reason, every file closed', async () => {
    const dest = fs.mkdtempSync(path.join(work, 'dest-'));
    const before = openFiles();
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const unpacking = extractTarball(big, dest, { maxBytes: 64 * MiB }, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 30);
    const started = Date.now();
    await assert.rejects(unpacking, (err: unknown) => err === reason);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    await allClosed(before);
    await removedForGood(dest);
  });

  test('beforeUnpack sees the exact size before anything is written, and may refuse', async () => {
    const dest = fs.mkdtempSync(path.join(work, 'dest-'));
    const refusal = new Error('no room');
    let seen = 0;
    await assert.rejects(
      extractTarball(
        big,
        dest,
        {},
        {
          beforeUnpack: (stats) => {
            seen = stats.bytes;
            throw refusal;
          },
        },
      ),
      (err: unknown) => err === refusal,
    );
    assert.equal(seen, 24 * MiB);
    assert.deepEqual(fs.readdirSync(dest), []);
  });
});
