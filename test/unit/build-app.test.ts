// buildApp with the real npm on fixture apps without dependencies (no network):
// streamed output, process types, manifests, failures a user would see, and a
// build environment that carries nothing of the server's own.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { type BuildOptions, buildApp } from '../../src/build/build-app.ts';
import { buildEnv } from '../../src/build/build-env.ts';
import { isSlipwayError } from '../../src/core/errors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-build-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LOCKFILE = {
  name: 'fixture',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: { '': { name: 'fixture', version: '1.0.0' } },
};

/** Writes an app into a fresh build dir; objects are written as JSON. */
function fixture(files: Record<string, string | object>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'app-'));
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

function pkg(scripts: Record<string, string>) {
  return { name: 'fixture', version: '1.0.0', private: true, scripts };
}

async function build(buildDir: string, extra: Partial<BuildOptions> = {}) {
  const lines: string[] = [];
  const cacheDir = path.join(tmp, 'cache', path.basename(buildDir));
  const run = buildApp({
    app: 'demo',
    buildDir,
    sourceVersion: null,
    cacheDir,
    onLine: (line) => lines.push(line),
    ...extra,
  });
  return { run, lines, cacheDir };
}

test('Procfile + package.json with a build script: npm ci, build output streamed, types parsed', async () => {
  const dir = fixture({
    Procfile: 'web: node server.js\nworker: node worker.js\npostdeploy: node migrate.js\n',
    'package.json': pkg({ build: 'node build.js', start: 'node server.js' }),
    'package-lock.json': LOCKFILE,
    'build.js':
      "require('fs').writeFileSync('built.txt', 'ok'); console.log('BUILD SAYS HELLO'); console.error('on stderr');",
  });
  const { run, lines } = await build(dir);
  const result = await run;
  assert.deepEqual(result.processes, { web: 'node server.js', worker: 'node worker.js' });
  assert.equal(result.procfilePostdeploy, 'node migrate.js');
  assert.equal(result.manifest, null);
  assert.equal(result.detected, 'Node.js');
  assert.equal(fs.readFileSync(path.join(dir, 'built.txt'), 'utf8'), 'ok');
  const at = (needle: string) => lines.findIndex((l) => l.includes(needle));
  assert.equal(lines.filter((l) => l === '-----> Node.js app detected').length, 1, lines.join('\n'));
  assert.ok(at('-----> Installing dependencies') >= 0);
  assert.ok(at('Package manager: npm') > at('-----> Installing dependencies'));
  assert.ok(at('-----> Build') < at('BUILD SAYS HELLO'), 'script output follows its header');
  assert.ok(at('on stderr') > 0, 'stderr is streamed too');
  assert.ok(at('BUILD SAYS HELLO') < at('-----> Discovering process types'));
  assert.ok(lines.includes('       Procfile declares types -> web, worker'));
});

test('package.json with "start" and no Procfile: npm install, web: npm start', async () => {
  const dir = fixture({ 'package.json': pkg({ start: 'node server.js' }) });
  const { run, lines } = await build(dir);
  const result = await run;
  assert.deepEqual(result.processes, { web: 'npm start' });
  assert.equal(result.procfilePostdeploy, null);
  assert.ok(lines.includes('-----> Installing dependencies'), lines.join('\n'));
  assert.ok(!lines.some((l) => l.trim() === 'Running build'), 'no build script, no build step');
});

test('a failing build script is build.failed, naming the buildpack and its exit code', async () => {
  const dir = fixture({
    'package.json': pkg({ build: 'echo about to fail && exit 3', start: 'x' }),
    'package-lock.json': LOCKFILE,
  });
  const { run, lines } = await build(dir);
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'), String(err));
    assert.match(err.message, /^buildpack nodejs: bin\/compile exited with code 3$/);
    return true;
  });
  assert.ok(lines.some((l) => l.includes('about to fail')));
});

test('a malformed Procfile fails with procfile.invalid_line and its line number, before any install', async () => {
  const dir = fixture({ Procfile: 'web: node server.js\nthis is not a process line\n', 'package.json': pkg({}) });
  const { run, lines } = await build(dir);
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'procfile.invalid_line'), String(err));
    assert.match(err.message, /line 2/);
    return true;
  });
  assert.ok(!lines.some((l) => l.includes('Installing')));
});

test('app.json scripts.postdeploy is returned as the manifest; a Procfile alone is built by the procfile buildpack', async () => {
  const dir = fixture({
    Procfile: 'web: python3 -m http.server $PORT\n',
    'app.json': { scripts: { postdeploy: 'echo from app.json' } },
  });
  const { run } = await build(dir);
  const result = await run;
  assert.deepEqual(result.manifest, { file: 'app.json', postdeploy: 'echo from app.json', firstDeploy: null });
  assert.equal(result.detected, 'Procfile');
  assert.deepEqual(result.processes, { web: 'python3 -m http.server $PORT' });
});

test('scalingo.json wins over app.json', async () => {
  const dir = fixture({
    Procfile: 'web: x\n',
    'app.json': { scripts: { postdeploy: 'from app.json' } },
    'scalingo.json': { scripts: { postdeploy: 'from scalingo.json', 'first-deploy': 'seed' } },
  });
  const result = await (await build(dir)).run;
  assert.deepEqual(result.manifest, { file: 'scalingo.json', postdeploy: 'from scalingo.json', firstDeploy: 'seed' });
});

test('Procfile and manifest files of any size are read: small ones at once, big ones streamed', async () => {
  // Over 64 KiB (comments and padding), so these take the asynchronous read; the small Procfile does not.
  const padding = `# ${'x'.repeat(200)}\n`.repeat(400);
  const big = fixture({
    Procfile: `${padding}web: node server.js\npostdeploy: node migrate.js\n`,
    'app.json': { description: 'y'.repeat(80_000), scripts: { postdeploy: 'node seed.js' } },
  });
  const result = await (await build(big)).run;
  assert.deepEqual(result.processes, { web: 'node server.js' });
  assert.equal(result.procfilePostdeploy, 'node migrate.js');
  assert.equal(result.manifest?.postdeploy, 'node seed.js');
  const small = await (await build(fixture({ Procfile: 'web: node server.js\n' }))).run;
  assert.deepEqual(small.processes, { web: 'node server.js' });
});

test('an app no built-in detects is build.failed naming the built-ins tried', async () => {
  const dir = fixture({ 'README.md': 'nothing to run\n' });
  await assert.rejects((await build(dir)).run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'));
    assert.match(
      err.message,
      /^no buildpack detected this app \(tried nodejs, static, inline, procfile\): add a Procfile/,
    );
    return true;
  });
});

test('no process types at all is build.failed with a hint', async () => {
  const dir = fixture({ 'package.json': pkg({}) });
  await assert.rejects((await build(dir)).run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'));
    assert.match(
      err.message,
      /no process types: add a Procfile with a web process, or use a buildpack whose bin\/release/,
    );
    return true;
  });
});

test('the build environment is made from scratch: server variables do not leak', async () => {
  process.env.SLIPWAY_TEST_LEAK_MARKER = 'server-secret';
  try {
    const dir = fixture({ 'package.json': pkg({ build: 'env', start: 'x' }), 'package-lock.json': LOCKFILE });
    const { run, lines, cacheDir } = await build(dir, { sourceVersion: 'abc1234' });
    await run;
    const output = lines.join('\n');
    assert.ok(!output.includes('SLIPWAY_TEST_LEAK_MARKER') && !output.includes('server-secret'), 'marker leaked');
    for (const expected of ['APP=demo', 'SOURCE_VERSION=abc1234', `HOME=${cacheDir}`, 'CI=true', 'STACK=slipway-1']) {
      assert.ok(
        lines.some((l) => l.trim() === expected),
        `missing ${expected}`,
      );
    }
    const npmCache = path.join(cacheDir, 'buildpacks', 'nodejs', 'nodejs', 'npm');
    assert.ok(fs.existsSync(npmCache), "npm's cache lives in the nodejs buildpack's cache dir");
  } finally {
    delete process.env.SLIPWAY_TEST_LEAK_MARKER;
  }
});

test('only the network passthrough variables are copied from the host', () => {
  const env = buildEnv(
    { app: 'a', buildDir: '/b', cacheDir: '/c', sourceVersion: null },
    { HTTPS_PROXY: 'http://proxy:3128', no_proxy: 'localhost', DATABASE_URL: 'postgres://x', PATH: '/evil' },
  );
  assert.equal(env.HTTPS_PROXY, 'http://proxy:3128');
  assert.equal(env.no_proxy, 'localhost');
  assert.equal(env.DATABASE_URL, undefined);
  assert.equal(env.SOURCE_VERSION, undefined);
  assert.ok(env.PATH?.startsWith('/b/node_modules/.bin:'));
});

test('a build past its timeout is killed, process group included', async () => {
  const dir = fixture({
    'package.json': pkg({ build: 'echo PID=$$ && sleep 60', start: 'x' }),
    'package-lock.json': LOCKFILE,
  });
  const { run, lines } = await build(dir, { timeoutMs: 6000 });
  const t0 = Date.now();
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'));
    assert.match(err.message, /^buildpack nodejs: bin\/compile ran past the build timeout of 6 s/);
    return true;
  });
  assert.ok(Date.now() - t0 < 15_000);
  const pid = Number(
    lines
      .map((l) => l.trim())
      .find((l) => l.startsWith('PID='))
      ?.slice(4),
  );
  assert.ok(pid > 0, lines.join('\n'));
  assert.ok(isDead(pid), 'the script shell was killed with its group');
});

/** Gone, or a zombie waiting for init to reap it (it was reparented when npm died). */
function isDead(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

test('an aborted build stops its command and is build.failed', async () => {
  const dir = fixture({ 'package.json': pkg({ build: 'sleep 60', start: 'x' }), 'package-lock.json': LOCKFILE });
  const controller = new AbortController();
  const lines: string[] = [];
  const run = buildApp({
    app: 'demo',
    buildDir: dir,
    sourceVersion: null,
    cacheDir: path.join(tmp, 'cache', 'abort'),
    signal: controller.signal,
    onLine: (line) => {
      lines.push(line);
      if (line.includes('sleep 60')) controller.abort(); // npm echoes the script as it starts it
    },
  });
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'), String(err));
    assert.match(err.message, /^buildpack nodejs: bin\/compile was stopped: the build was cancelled/);
    return true;
  });
});
