// The nodejs buildpack through a real `slipway server`, as users run it (the
// build sandboxed when this host can, the registry reached from inside): the
// build script sees the devDependency, the slug does not ship it, the app runs
// with NODE_ENV=production, and a redeploy with the same lockfile restores
// node_modules from the cache without installing (without a build script,
// only the packages pruning keeps).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const APP = 'nodeapp';

describe('a Node.js app through a real server', () => {
  let slipway: Slipway;
  const source = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-node-app-'));
  const deploy = () => slipway.cli(['deploy', source, '-a', APP]);
  const served = async () => JSON.parse((await routerGet(slipway.routerPort, `${APP}.localhost`)).body);

  before(async () => {
    fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'buildpack-apps', 'small-deps'), source, { recursive: true });
    slipway = await startSlipway({ args: ['--boot-timeout', '30s'] });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
  });
  after(() => slipway?.stop());

  test('builds with devDependencies, ships without them, runs in production', async () => {
    const first = await deploy();
    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, /^-----> Node\.js app detected$/m);
    assert.match(first.stdout, /^-----> Pruning devDependencies$/m);
    assert.deepEqual(await served(), {
      oneDay: 86_400_000,
      built: 'built with is-number',
      devDependencyShipped: false,
      nodeEnv: 'production',
    });
    const { json: env } = await slipway.api('GET', `/api/apps/${APP}/env`);
    assert.equal(env.NODE_ENV, 'production', "the buildpack's default became the app's config");
  });

  test('a redeploy with the same lockfile restores node_modules from the cache', async () => {
    fs.appendFileSync(path.join(source, 'server.js'), '// a code change, the same lockfile\n');
    const again = await deploy();
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.doesNotMatch(again.stdout, /added \d+ package/, 'no install ran');
    assert.equal((await served()).devDependencyShipped, false);
  });

  test('without a build script, the redeploy copies only what pruning keeps', async () => {
    // Scripts are not part of the cache key: the same cached node_modules, and nothing needs is-number.
    const pkg = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8'));
    delete pkg.scripts.build;
    fs.writeFileSync(path.join(source, 'package.json'), JSON.stringify(pkg, null, 2));
    fs.writeFileSync(path.join(source, 'built.txt'), 'committed, not built');
    const again = await deploy();
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.match(again.stdout, /Restored already pruned, as the first build from this cached node_modules pruned it/);
    assert.match(again.stdout, /node_modules: \d+ MB with devDependencies, \d+ MB without/);
    assert.doesNotMatch(again.stdout, /added \d+ package/, 'no install ran');
    assert.deepEqual(await served(), {
      oneDay: 86_400_000,
      built: 'committed, not built',
      devDependencyShipped: false,
      nodeEnv: 'production',
    });
  });
});
