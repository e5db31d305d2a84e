// What the adoption tests (docker-adopt, swarm-adopt) share: the logs-app
// fixture deployed with two web containers, and the checks a user would make
// once a restarted server has taken them over: the router reaches both, and
// what they print reaches `slipway logs`.

import assert from 'node:assert/strict';
import { fixtureCopy, routerGet, type Slipway } from './slipway.ts';
import { waitFor } from './wait.ts';

export async function deployTwoWebs(slipway: Slipway, app: string): Promise<void> {
  const deployed = await slipway.cli(['deploy', fixtureCopy('logs-app'), '-a', app, '--create']);
  assert.equal(deployed.code, 0, deployed.stderr);
  const scaled = await slipway.cli(['scale', 'web=2', 'worker=0', '-a', app]);
  assert.equal(scaled.code, 0, scaled.stderr);
}

/** Requests through the router reach both web containers, and their request lines reach `slipway logs`. */
export async function servesAndLogs(slipway: Slipway, app: string, tag = 'after-restart'): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const res = await routerGet(slipway.routerPort, `${app}.localhost`, `/${tag}-${i}`);
    assert.equal(res.status, 200);
    seen.add(res.body.trim());
  }
  assert.deepEqual([...seen].sort(), ['web-1', 'web-2'], 'the router sends to both adopted containers');
  await waitFor(
    async () => (await slipway.cli(['logs', '-a', app, '--type', 'web'])).stdout.includes(`got GET /${tag}-5`),
    'a line printed by an adopted container in slipway logs',
    10_000,
  );
}
