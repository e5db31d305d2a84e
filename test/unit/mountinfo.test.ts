// /proc/self/mountinfo parsing: mount points (escaped characters decoded),
// file system types and superblock options, optional fields skipped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMountinfo } from '../../src/runtime/mountinfo.ts';

test('mount point, type and superblock options of each mount (hybrid hosts mount cgroup2 at unified/)', () => {
  const mounts = parseMountinfo(
    [
      '25 31 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '33 25 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
      '41 25 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
      '52 31 0:40 / /srv/my\\040apps rw - overlay overlay rw,lowerdir=/a',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    mounts.map((m) => [m.mountPoint, m.fstype]),
    [
      ['/sys/fs/cgroup', 'tmpfs'],
      ['/sys/fs/cgroup/pids', 'cgroup'],
      ['/sys/fs/cgroup/unified', 'cgroup2'],
      ['/srv/my apps', 'overlay'],
    ],
  );
  assert.deepEqual(mounts[2]?.superOptions, ['rw', 'nsdelegate']);
});
