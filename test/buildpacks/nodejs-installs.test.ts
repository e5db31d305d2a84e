// The nodejs buildpack installing from the npm registry (slow: its own npm
// script, `npm run test:buildpacks`): a native module compiled against this
// Node's headers with nothing downloaded but packages, devDependencies there
// for the build and pruned after, node_modules restored from the cache when
// the lockfile did not change, yarn and pnpm lockfiles, and a Vite app whose
// bundle carries a config var, served by the static buildpack after it.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuildDirs,
  parseRelease,
  prepareBuild,
  type RunningApp,
  runStep,
  type StepResult,
  startApp,
} from '../helpers/buildpack-api.ts';

interface Report {
  nodeEnv: string | null;
  devDependencyPresent: boolean;
  sqlite?: { v: string; version: string };
  twoDays?: number;
  builtBy?: string;
}

/** Compiles and releases `dirs`, starts its web process, and returns what the app reports. */
async function compileAndAsk(dirs: BuildDirs): Promise<{ compile: StepResult; report: Report }> {
  const compile = await runStep('nodejs', 'compile', dirs);
  assert.equal(compile.code, 0, compile.output);
  const { processes } = parseRelease((await runStep('nodejs', 'release', dirs)).stdout);
  const app = await startApp(dirs.buildDir, processes.web as string);
  try {
    return { compile, report: (await (await fetch(app.url)).json()) as Report };
  } finally {
    await app.stop();
  }
}

const INSTALLED = /^ {7}(added \d+ packages|Done in|Packages: \+|\[\d\/\d\] Fetching)/m;

describe('nodejs buildpack: a native module (better-sqlite3), pruning, and the node_modules cache', () => {
  let first: BuildDirs;
  let firstCompile: StepResult;
  let firstReport: Report;

  before(async () => {
    first = await prepareBuild(['node-native', 'deps-server']);
    ({ compile: firstCompile, report: firstReport } = await compileAndAsk(first));
  });

  after(async () => {
    await first?.remove();
  });

  test('better-sqlite3 is compiled against this Node.js, without an .npmrc and without downloading headers', async () => {
    await assert.rejects(fs.access(path.join(first.buildDir, '.npmrc')), 'the app has no .npmrc');
    assert.match(firstCompile.output, /Native modules are built against \/.*\/include\/node \(node-gyp --nodedir/);
    assert.equal(firstReport.sqlite?.v, 'from sqlite');
    const binary = path.join(first.buildDir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    await fs.access(binary);
    // node-gyp keeps downloaded headers under HOME (the cache here): nothing may be there.
    await assert.rejects(fs.access(path.join(first.cacheDir, '.cache', 'node-gyp')));
    assert.doesNotMatch(firstCompile.output, /gyp http GET|downloading|prebuild-install.*Downloading/i);
  });

  test('devDependencies are there for the build, and not in the slug', async () => {
    const built = JSON.parse(await fs.readFile(path.join(first.buildDir, 'build-output.json'), 'utf8'));
    assert.deepEqual(built, { devDependencyLoaded: true, nodeEnv: 'production' });
    assert.equal(firstReport.devDependencyPresent, false);
    await assert.rejects(fs.access(path.join(first.buildDir, 'node_modules', 'is-number')));
    assert.equal(firstReport.nodeEnv, 'production');
  });

  test('a second compile with the same lockfile restores node_modules instead of installing, much faster', async (t) => {
    const second = await prepareBuild(['node-native', 'deps-server'], {}, first.cacheDir);
    try {
      const { compile, report } = await compileAndAsk(second);
      assert.match(compile.output, /^ {7}restored node_modules from cache \(lockfile unchanged\)/m);
      assert.doesNotMatch(compile.output, INSTALLED);
      assert.match(compile.output, /Pruned as the first build from this cached node_modules did/);
      assert.equal(report.sqlite?.v, 'from sqlite');
      assert.equal(report.devDependencyPresent, false);
      t.diagnostic(`first compile ${firstCompile.ms} ms, second compile (cache) ${compile.ms} ms`);
      assert.ok(compile.ms * 5 < firstCompile.ms, `second ${compile.ms} ms vs first ${firstCompile.ms} ms`);
    } finally {
      await second.remove();
    }
  });
});

describe('nodejs buildpack: yarn and pnpm lockfiles, through corepack', () => {
  const cases: [string, RegExp, string][] = [
    ['node-yarn', /Package manager: yarn 1\.22\.22 \(through corepack, yarn@1\.22\.22\)/, 'yarn/1.22.22'],
    ['node-pnpm', /Package manager: pnpm 9\.15\.9 \(through corepack, pnpm@9\.15\.9\)/, 'pnpm/9.15.9'],
    // yarn 4 with the node-modules linker (Plug'n'Play apps have no node_modules: not supported).
    // (its npm build calls itself 4.9.1-git.<date>.hash-<commit>)
    ['node-yarn-berry', /Package manager: yarn 4\.9\.1\S* \(through corepack, yarn@4\.9\.1\)/, 'yarn/4.9.1'],
  ];
  for (const [fixture, label, agent] of cases) {
    test(`${fixture}: installed, built and pruned by its own manager; a changed lockfile installs again`, async (t) => {
      const dirs = await prepareBuild([fixture, 'deps-server']);
      let again: BuildDirs | undefined;
      try {
        const { compile, report } = await compileAndAsk(dirs);
        assert.match(compile.output, label);
        if (fixture === 'node-pnpm') await fs.access(path.join(dirs.cacheDir, 'nodejs', 'pnpm-store'));
        assert.equal(report.twoDays, 172_800_000);
        assert.equal(report.devDependencyPresent, false, 'devDependency pruned');
        assert.ok(report.builtBy?.startsWith(agent), report.builtBy);
        await assert.rejects(fs.access(path.join(dirs.buildDir, 'package-lock.json')), 'npm was not used');

        // Unchanged lockfile: restored. Changed lockfile: the cache says why it is not used.
        again = await prepareBuild([fixture, 'deps-server'], {}, dirs.cacheDir);
        const restored = await compileAndAsk(again);
        assert.match(restored.compile.output, /restored node_modules from cache \(lockfile unchanged\)/);
        assert.equal(restored.report.twoDays, 172_800_000);
        assert.equal(restored.report.devDependencyPresent, false);
        await again.remove();
        again = await prepareBuild([fixture, 'deps-server'], {}, dirs.cacheDir);
        // yarn 4 refuses a lockfile it would rewrite (--immutable): its config file changes instead.
        const berry = fixture === 'node-yarn-berry';
        const changedFile = berry ? '.yarnrc.yml' : fixture === 'node-yarn' ? 'yarn.lock' : 'pnpm-lock.yaml';
        await fs.appendFile(path.join(again.buildDir, changedFile), berry ? '# changed\n' : '\n');
        const changed = await runStep('nodejs', 'compile', again);
        assert.equal(changed.code, 0, changed.output);
        const why = berry ? 'a package manager config file \\(.npmrc, .yarnrc.yml…\\) changed' : 'the lockfile changed';
        assert.match(changed.output, new RegExp(`Cached node_modules not used: ${why}: installing`));
        t.diagnostic(`first ${compile.ms} ms, restored ${restored.compile.ms} ms, changed lockfile ${changed.ms} ms`);
      } finally {
        await again?.remove();
        await dirs.remove();
      }
    });
  }
});

describe('nodejs then static: a Vite app built with a config var, served by the static buildpack', () => {
  let dirs: BuildDirs;
  let app: RunningApp;
  const apiUrl = 'https://api.example.test/v1-from-env-dir';

  before(async () => {
    dirs = await prepareBuild('vite-app', { VITE_API_URL: apiUrl });
    for (const buildpack of ['nodejs', 'static']) {
      const detect = await runStep(buildpack, 'detect', dirs);
      assert.equal(detect.code, 0, `${buildpack} detects the app: ${detect.output}`);
      const compile = await runStep(buildpack, 'compile', dirs);
      assert.equal(compile.code, 0, compile.output);
    }
    // The last buildpack's release names the web process (the nodejs one has none: no start script).
    assert.deepEqual(parseRelease((await runStep('nodejs', 'release', dirs)).stdout).processes, {});
    const { processes } = parseRelease((await runStep('static', 'release', dirs)).stdout);
    app = await startApp(dirs.buildDir, processes.web as string);
  });

  after(async () => {
    await app?.stop();
    await dirs?.remove();
  });

  test("the bundle holds the config var's value, served with the right content types", async () => {
    const page = await fetch(app.url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    const script = /<script type="module" crossorigin src="(\/assets\/index-[^"]+\.js)"/.exec(html)?.[1];
    const style = /<link rel="stylesheet" crossorigin href="(\/assets\/index-[^"]+\.css)"/.exec(html)?.[1];
    assert.ok(script && style, html);
    const js = await fetch(app.url + script);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok((await js.text()).includes(apiUrl), 'VITE_API_URL is in the bundle');
    const css = await fetch(app.url + style);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  });

  test('client-side routes get index.html, anything else a 404', async () => {
    const routed = await fetch(`${app.url}/dashboard/settings`);
    assert.equal(routed.status, 200);
    assert.match(await routed.text(), /<div id="app">/);
    const missing = await fetch(`${app.url}/nope.png`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /404 Not Found/);
  });

  test('the slug keeps no devDependency (vite) and no source folder is served', async () => {
    await assert.rejects(fs.access(path.join(dirs.buildDir, 'node_modules', 'vite')));
    assert.equal((await fetch(`${app.url}/src/main.js`)).status, 404);
  });
});
