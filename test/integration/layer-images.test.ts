// The sandbox's layer images (runtime/sandbox/layer-images.ts): bounded file
// systems made ahead of time, moved to their container when taken, gone once
// released or closed, and swept (a loop device holding one detached) after a
// crash. Needs root and loop devices; skipped otherwise, with the reason.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HELPER_ENV, runChecked } from '../../src/exec/index.ts';
import { createLayerImages, layerImagesMissing, loopDevicesUnder } from '../../src/runtime/sandbox/layer-images.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = process.getuid?.() !== 0 ? 'layer images need root' : (layerImagesMissing() ?? false);
const MiB = 1024 * 1024;
const OWNER = { uid: 64_321, gid: 64_321 };

/** Bytes the file system of `image` offers (dumpe2fs: block count × block size). */
async function imageBytes(image: string): Promise<number> {
  const out = await runChecked(['dumpe2fs', '-h', image], { env: HELPER_ENV });
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(out)?.[1]);
  return field('Block count') * field('Block size');
}

describe('layer images', { skip }, () => {
  let root: string;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-layers-'));
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('a taken image is a file system of its size, moved to its container, gone once released', async () => {
    const images = createLayerImages({ dir: path.join(root, 'pool-a') });
    const file = path.join(root, 'c1-layer.img');
    const image = await images.take(64 * MiB, OWNER, { file });
    assert.equal(image.file, file);
    assert.equal(await imageBytes(file), 64 * MiB);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(fs.statSync(file).blocks * 512 < 4 * MiB, 'the image is not sparse');
    await images.release(image);
    await images.release(image); // idempotent
    assert.equal(fs.existsSync(file), false);
    await images.close();
    assert.deepEqual(loopDevicesUnder(root), []);
  });

  test('spares are made after a take and used by the next one; close releases them', async () => {
    const pool = path.join(root, 'pool-b');
    const images = createLayerImages({ dir: pool, sparesPerKey: 2 });
    const first = await images.take(32 * MiB, OWNER, { file: path.join(root, 'b1.img') });
    const spares = () => fs.readdirSync(pool).filter((name) => name.endsWith('.img'));
    await waitFor(() => spares().length === 2, 'two spares', 10_000);
    const second = await images.take(32 * MiB, OWNER, { file: path.join(root, 'b2.img') });
    assert.equal(spares().length, 1, 'the take did not use a spare');
    assert.equal(await imageBytes(second.file), 32 * MiB);
    await images.release(first);
    await images.release(second);
    await images.close();
    assert.deepEqual(spares(), []);
    assert.deepEqual(loopDevicesUnder(root), []);
  });

  test('a sweep removes what a killed server left, and detaches a loop device still holding it', async () => {
    const pool = path.join(root, 'pool-c');
    const crashed = createLayerImages({ dir: pool, sweepRoot: root });
    const left = await crashed.take(16 * MiB, OWNER, { spare: false });
    const kept = await crashed.persistent(path.join(root, 'cache.img'), 16 * MiB, OWNER);
    // Mounts attach their loop devices with autoclear; one attached by hand is not, as after some crash.
    await runChecked(['losetup', '--find', left.file], { env: HELPER_ENV });
    assert.equal(loopDevicesUnder(root).length, 1);
    // The next start knows nothing of them but where they live.
    const next = createLayerImages({ dir: pool, sweepRoot: root });
    assert.equal(await next.sweep(), 1);
    assert.deepEqual(loopDevicesUnder(root), []);
    assert.deepEqual(fs.readdirSync(pool), []);
    assert.ok(fs.existsSync(kept.file), 'a build cache image is kept');
    // And it is the same file system when asked for again.
    const again = await next.persistent(kept.file, 16 * MiB, OWNER);
    assert.equal(again.file, kept.file);
    assert.ok((await imageBytes(kept.file)) > 0);
    await next.release(again);
    assert.ok(fs.existsSync(kept.file));
    await next.close();
  });
});
