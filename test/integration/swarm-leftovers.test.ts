// Leftovers of a test swarm (test/helpers/swarm-cluster.ts) whose run
// crashed before its close: the next cluster's start sweeps them (their
// owner process is gone), and leaves alone those of a run still going.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { HELPER_ENV, runChecked, spawnProcess } from '../../src/exec/index.ts';
import { swarmClusterSkipReason } from '../helpers/swarm-cluster.ts';
import { clusterNames, nodeProcesses, sweepSwarmClusters } from '../helpers/swarm-netns.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = (await swarmClusterSkipReason()) ?? false;

describe('leftovers of a crashed run', { skip }, () => {
  test('are swept, while a cluster whose owner runs is left alone', async () => {
    const exited = spawnProcess(['true'], { env: HELPER_ENV });
    await exited.exited;
    const [crashed, alive] = [
      clusterNames(randomBytes(3).toString('hex')),
      clusterNames(randomBytes(3).toString('hex')),
    ];
    for (const [names, owner] of [
      [crashed, exited.pid],
      [alive, process.pid],
    ] as const) {
      await runChecked(['ip', 'netns', 'add', names.netns('n1')], { env: HELPER_ENV });
      mkdirSync(names.dir, { recursive: true });
      writeFileSync(`${names.dir}/owner`, String(owner));
    }
    // A process the crashed run left in its node's namespace.
    const straggler = spawnProcess(['nsenter', `--net=/run/netns/${crashed.netns('n1')}`, 'sleep', '600'], {
      env: HELPER_ENV,
    });
    try {
      await waitFor(async () => (await nodeProcesses(crashed.netns('n1'))).length > 0, 'the straggler', 5000);
      const swept = await sweepSwarmClusters();
      assert.ok(swept.includes(crashed.id) && !swept.includes(alive.id), String(swept));
      assert.equal((await straggler.exited).signal, 'SIGKILL');
      assert.equal(existsSync(`/run/netns/${crashed.netns('n1')}`), false);
      assert.equal(existsSync(crashed.dir), false);
      assert.equal(existsSync(`/run/netns/${alive.netns('n1')}`), true);
      assert.equal(existsSync(alive.dir), true);
    } finally {
      await straggler.stop(0);
      await runChecked(['ip', 'netns', 'del', alive.netns('n1')], { env: HELPER_ENV }).catch(() => {});
      rmSync(alive.dir, { recursive: true, force: true });
    }
  });
});
