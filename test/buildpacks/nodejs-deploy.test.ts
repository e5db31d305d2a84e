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
import { waitFor } from '../helpers/wait.ts';

const APP = 'nodeapp';

describe('a Node.js app through a real server', () => {
  let slipway: Slipway;
  const source = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-node-app-'));
  const deploy = () => slipway.cli(['deploy', source, '-a', APP]);
  /** Changes the source's package.json; returns its text before, to put back. */
  const editPackage = (edit: (pkg: { scripts: Record<string, string>; [key: string]: unknown }) => void) => {
    const file = path.join(source, 'package.json');
    const before = fs.readFileSync(file, 'utf8');
    const pkg = JSON.parse(before);
    edit(pkg);
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2));
    return before;
  };
  /** What the app answers when it runs in production without its devDependency. */
  const runningAs = (built: string, oneDay = 86_400_000) => ({
    oneDay,
    built,
    devDependencyShipped: false,
    nodeEnv: 'production',
  });
  /** The newest slug's directory (slug ids sort by creation time). */
  const slugOf = async () => {
    const dir = path.join(slipway.home, 'slugs', APP);
    return path.join(dir, fs.readdirSync(dir).sort().at(-1) ?? '');
  };
  const served = async () => JSON.parse((await routerGet(slipway.routerPort, `${APP}.localhost`)).body);
  /** Puts package.json back as it was and deploys: node_modules restored, the app as before; its output and slug. */
  const redeployPristine = async (pristine: string) => {
    fs.writeFileSync(path.join(source, 'package.json'), pristine);
    const next = await deploy();
    assert.equal(next.code, 0, next.stdout);
    assert.match(next.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.deepEqual(await served(), runningAs('committed, not built'));
    return { stdout: next.stdout, slug: await slugOf() };
  };

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
    assert.deepEqual(await served(), runningAs('built with is-number'));
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
    // Sandboxed with bounded images (kept layer mounted, nothing copied) or not (only the kept packages copied).
    assert.match(
      again.stdout,
      /nothing copied[\s\S]*Pruned as the first build|Restored already pruned, as the first build from this cached node_modules pruned it/,
    );
    assert.match(again.stdout, /node_modules: \d+ MB with devDependencies, \d+ MB without/);
    assert.doesNotMatch(again.stdout, /added \d+ package/, 'no install ran');
    assert.deepEqual(await served(), runningAs('committed, not built'));
  });

  test('a build that changes the restored node_modules leaves the cache as it was: the next build gets the original', async () => {
    // The app as the test before left it (no build script); then a build that rewrites a file of a
    // dependency, deletes another, puts a folder in place of a third, and adds one.
    const pristine = editPackage((pkg) => {
      pkg.scripts.build =
        "node -e \"const fs = require('fs'); fs.writeFileSync('node_modules/ms/index.js', 'module.exports = () => -1;'); fs.rmSync('node_modules/ms/package.json'); fs.writeFileSync('node_modules/ms/readme.md', 'changed'); fs.rmSync('node_modules/ms/license.md'); fs.mkdirSync('node_modules/ms/license.md'); fs.writeFileSync('node_modules/ms/license.md/inner', 'x'); fs.writeFileSync('node_modules/added.txt', 'x'); fs.writeFileSync('built.txt', 'tampered')\"";
    });
    const tampered = await deploy();
    assert.equal(tampered.code, 0, tampered.stdout);
    assert.match(tampered.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    // Its own slug has what it did: ms without its package.json resolves index.js, the rewritten one.
    const ms = path.join(await slugOf(), 'node_modules', 'ms');
    assert.deepEqual(fs.readdirSync(ms).sort(), ['index.js', 'license.md', 'readme.md']);
    assert.deepEqual(fs.readdirSync(path.join(ms, 'license.md')), ['inner']);
    assert.equal(fs.readFileSync(path.join(ms, 'readme.md'), 'utf8'), 'changed');
    assert.deepEqual(await served(), runningAs('tampered', -1));

    fs.writeFileSync(path.join(source, 'package.json'), pristine);
    const next = await deploy();
    assert.equal(next.code, 0, next.stdout);
    assert.match(next.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.doesNotMatch(next.stdout, /added \d+ package/, 'no install ran');
    assert.deepEqual(await served(), runningAs('committed, not built'));
    const slug = await slugOf();
    assert.equal(fs.readFileSync(path.join(slug, 'node_modules', 'ms', 'package.json'), 'utf8').includes('"ms"'), true);
    assert.equal(
      fs.readFileSync(path.join(slug, 'node_modules', 'ms', 'readme.md'), 'utf8').includes('changed'),
      false,
    );
    assert.equal(fs.existsSync(path.join(slug, 'node_modules', 'added.txt')), false);
    assert.equal(fs.statSync(path.join(slug, 'node_modules', 'ms', 'license.md')).isFile(), true);
    assert.equal(fs.existsSync(path.join(slug, 'node_modules', 'is-number')), false, 'pruned as before');
  });

  test('a changed key installs again over the kept node_modules, and the build after restores the new ones', async () => {
    editPackage((pkg) => {
      pkg.optionalDependencies = {}; // part of the key; the lockfile still matches
    });
    const changed = await deploy();
    assert.equal(changed.code, 0, changed.stdout);
    assert.match(changed.stdout, /Cached node_modules not used: .*: installing/);
    assert.match(changed.stdout, /node_modules cached for the next build/);
    assert.equal((await served()).devDependencyShipped, false, 'the old entry does not show through');
    assert.equal(fs.existsSync(path.join(await slugOf(), 'node_modules', 'is-number')), false);

    fs.appendFileSync(path.join(source, 'server.js'), '// another change, the same key\n');
    const again = await deploy();
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.deepEqual(await served(), runningAs('committed, not built'));
  });

  test('what the app changes in its node_modules, at build and at run time, never reaches the kept layer', async () => {
    const ms = (slug: string, file: string) => path.join(slug, 'node_modules', 'ms', file);
    const files = ['index.js', 'license.md', 'package.json', 'readme.md'];
    const snapshot = (slug: string) =>
      files.map((file) => `${file} ${fs.statSync(ms(slug, file)).mode.toString(8)} ${fs.readFileSync(ms(slug, file))}`);
    const original = snapshot(await slugOf());
    const serverFile = path.join(source, 'server.js');
    const server = fs.readFileSync(serverFile, 'utf8');
    const pristine = editPackage((pkg) => {
      pkg.scripts.build =
        "node -e \"const fs = require('fs'); fs.appendFileSync('node_modules/ms/license.md', 'build time'); fs.chmodSync('node_modules/ms/index.js', 0o777)\"";
    });
    // At run time, in its own view of the slug; a write that fails stops the app (and the deployment).
    fs.writeFileSync(
      serverFile,
      `require('fs').appendFileSync('node_modules/ms/readme.md', 'run time');\nrequire('fs').chmodSync('node_modules/ms/package.json', 0o600);\n${server}`,
    );
    const tampering = await deploy();
    assert.equal(tampering.code, 0, tampering.stdout);
    assert.match(tampering.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.equal((await served()).nodeEnv, 'production');
    const tamperedSlug = await slugOf();
    assert.match(
      fs.readFileSync(ms(tamperedSlug, 'license.md'), 'utf8'),
      /build time$/,
      "the build's change is its slug's",
    );
    assert.notEqual(fs.statSync(ms(tamperedSlug, 'index.js')).mode, fs.statSync(ms(tamperedSlug, 'readme.md')).mode);
    assert.deepEqual(
      snapshot(tamperedSlug).slice(2),
      original.slice(2),
      'what the app did at run time stays in its view',
    );

    fs.writeFileSync(serverFile, server);
    const next = await redeployPristine(pristine);
    const { slug } = next;
    assert.deepEqual(snapshot(slug), original);
    if (/nothing copied/.test(next.stdout)) {
      // Sandboxed with bounded images: the slug's unchanged files are links to the kept layer's, as it was.
      const kept = path.join(slipway.home, 'cache', `${APP}.kept`, 'nodejs', 'build-dir');
      assert.deepEqual(snapshot(kept), original);
      assert.equal(fs.statSync(ms(slug, 'package.json')).ino, fs.statSync(ms(kept, 'package.json')).ino);
      assert.notEqual(fs.statSync(ms(tamperedSlug, 'license.md')).ino, fs.statSync(ms(kept, 'license.md')).ino);
    }
  });

  test('a build that tries to turn its kept layer into a link out of the cache cannot, and gets no host files', async () => {
    const pristine = editPackage((pkg) => {
      pkg.scripts.build =
        'rm -rf "$HOME/buildpacks/nodejs/kept/build-dir" && ln -s /etc "$HOME/buildpacks/nodejs/kept/build-dir"';
    });
    const hostile = await deploy();
    if (/nothing copied/.test(hostile.stdout)) {
      // Its kept layer is on the host, seen read-only: neither removed nor replaced.
      assert.notEqual(hostile.code, 0, hostile.stdout);
      assert.match(hostile.stdout, /Read-only file system/);
    }
    const { slug } = await redeployPristine(pristine);
    for (const hostFile of ['passwd', 'hostname', 'os-release'])
      assert.equal(fs.existsSync(path.join(slug, hostFile)), false, hostFile);
  });

  test('clearing the build cache during a build leaves that build alone; the next one starts empty', async () => {
    const pristine = editPackage((pkg) => {
      pkg.scripts.build = 'sleep 4';
    });
    const deployments = async (): Promise<{ id: string }[]> =>
      (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json;
    const earlier = new Set((await deployments()).map((d) => d.id));
    const building = deploy();
    await waitFor(
      async () => {
        const latest = (await deployments()).find((d) => !earlier.has(d.id));
        if (latest === undefined) return false;
        const logs = await slipway.api('GET', `/api/apps/${APP}/deployments/${latest.id}/logs`);
        return /Running build/.test(String(logs.json));
      },
      'the build script to run',
      60_000,
      100,
    );
    const cleared = await slipway.cli(['builds:clear-cache', '-a', APP]);
    assert.equal(cleared.code, 0, cleared.stderr);
    const built = await building;
    assert.equal(built.code, 0, built.stdout);
    assert.match(built.stdout, /restored node_modules from cache \(lockfile unchanged\)/);
    assert.deepEqual(await served(), runningAs('committed, not built'));

    fs.writeFileSync(path.join(source, 'package.json'), pristine);
    const next = await deploy();
    assert.equal(next.code, 0, next.stdout);
    assert.match(next.stdout, /No cached node_modules yet: installing/);
    assert.deepEqual(await served(), runningAs('committed, not built'));
    assert.equal((await served()).devDependencyShipped, false);
  });
});
