// The rules for a volume's path and size (core/volumes.ts), which the API,
// the CLI's messages and both runtimes rely on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlaps, parseVolumePath, parseVolumeSize } from '../../src/core/volumes.ts';

test('paths inside the app or at a top level of its own are taken, normalised', () => {
  assert.equal(parseVolumePath('/app/data'), '/app/data');
  assert.equal(parseVolumePath('/app/data/'), '/app/data');
  assert.equal(parseVolumePath('/data'), '/data');
  assert.equal(parseVolumePath('/srv/uploads/v1.2_x-y'), '/srv/uploads/v1.2_x-y');
  assert.equal(parseVolumePath('/home/app'), '/home/app');
});

test('relative, traversing, system and root paths are refused with volume.invalid_path', () => {
  const hostile = [
    '',
    'data',
    './data',
    '/',
    '/app',
    '/app/',
    '/app/..',
    '/app/../etc',
    '/data/../../etc/shadow',
    '/app/./x',
    '//etc',
    '/app//x',
    '/etc',
    '/etc/cron.d',
    '/usr/local/bin',
    '/proc/self',
    '/sys',
    '/dev/shm',
    '/tmp',
    '/run/slipway-sandbox',
    '/var/lib',
    '/lib64',
    '/root',
    '/app/.hidden/../x',
    '/app/with space',
    '/app/new\nline',
    '/app/semi;colon',
    '/app/$(id)',
    '/app/-rf',
    `/app/${'x'.repeat(65)}`,
    '/a/b/c/d/e/f/g/h/i',
  ];
  for (const input of hostile)
    assert.throws(() => parseVolumePath(input), { code: 'volume.invalid_path' }, JSON.stringify(input));
});

test('sizes: MiB or GiB from 32m to 256g', () => {
  assert.equal(parseVolumeSize('32m'), 32 * 1024 * 1024);
  assert.equal(parseVolumeSize('1g'), 1024 ** 3);
  assert.equal(parseVolumeSize('2GiB'), 2 * 1024 ** 3);
  assert.equal(parseVolumeSize('512M'), 512 * 1024 * 1024);
  for (const bad of ['', '1', '31m', '257g', '1t', '-1g', '1.5g', 'lots', '0g', '1 gb x'])
    assert.throws(() => parseVolumeSize(bad), { code: 'volume.invalid_size' }, bad);
});

test('volumes overlap when one path is, or is inside, the other', () => {
  assert.equal(overlaps('/app/data', '/app/data'), true);
  assert.equal(overlaps('/app/data', '/app/data/inner'), true);
  assert.equal(overlaps('/app/data/inner', '/app/data'), true);
  assert.equal(overlaps('/app/data', '/app/database'), false);
  assert.equal(overlaps('/data', '/app/data'), false);
});
