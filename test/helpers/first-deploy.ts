// The first deployment of the web-worker-hook fixture, as the runtime drivers'
// end-to-end tests check it: the hook ran (its output in the deployment log),
// v1 serves through the router, and the hook's file changes stayed its own.

import assert from 'node:assert/strict';
import { fixtureCopy, routerGet, type Slipway } from './slipway.ts';

export async function deployWebWorkerHook(slipway: Slipway, app: string): Promise<void> {
  const dir = fixtureCopy('web-worker-hook');
  const result = await slipway.cli(['deploy', dir, '-a', app]);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, new RegExp(`migrating database for ${app}`));
  assert.match(result.stdout, new RegExp(`hook ${app} postdeploy-1 v1`));
  assert.match(result.stdout, /succeeded: v1 is live/);
  const host = `${app}.localhost`;
  const res = await routerGet(slipway.routerPort, host);
  assert.deepEqual([res.status, res.body], [200, 'v-one web-1\n']);
  const files = JSON.parse((await routerGet(slipway.routerPort, host, '/files')).body);
  assert.ok(files.includes('label.txt') && !files.includes('migrated.txt'), String(files));
}
