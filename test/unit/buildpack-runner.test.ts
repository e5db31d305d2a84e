// The buildpack runner with bare processes, on fixture buildpacks written
// for the tests: the cache cap (oldest buildpack caches out), local folders
// only when the server allows them, a release that prints broken YAML, a
// buildpack past the build timeout named in the error, and the forms of
// buildpack names the API accepts.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { type BuildOptions, buildApp } from '../../src/build/build-app.ts';
import { defaultBuiltinDir } from '../../src/build/fetch-buildpack.ts';
import { parseBuildpackSpec } from '../../src/core/buildpack-spec.ts';
import { isSlipwayError } from '../../src/core/errors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bp-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'buildpacks');

/** A buildpack folder made of the given scripts (name → body, after the shebang). */
function buildpack(scripts: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'bp-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  for (const [name, body] of Object.entries(scripts)) {
    fs.writeFileSync(path.join(dir, 'bin', name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

async function build(appBuildpacks: string[], extra: Partial<BuildOptions> = {}) {
  const buildDir = fs.mkdtempSync(path.join(tmp, 'app-'));
  fs.writeFileSync(path.join(buildDir, 'Procfile'), 'web: node server.js\n');
  const lines: string[] = [];
  const run = buildApp({
    app: 'demo',
    buildDir,
    sourceVersion: null,
    cacheDir: path.join(tmp, 'cache'),
    appBuildpacks,
    sources: { builtinDir: defaultBuiltinDir(), allowLocal: true },
    onLine: (line) => lines.push(line),
    ...extra,
  });
  return { run, lines };
}

test('the cache is trimmed to its cap before a build: the oldest buildpack caches go first', async () => {
  const cacheDir = path.join(tmp, 'cache');
  const filler = (key: string, kib: number, ageS: number) => {
    const dir = path.join(cacheDir, 'buildpacks', key);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'blob'), Buffer.alloc(kib * 1024, 1));
    const when = new Date(Date.now() - ageS * 1000);
    fs.utimesSync(dir, when, when);
  };
  filler('oldest', 300, 300);
  filler('older', 300, 200);
  filler('recent', 100, 100);
  const { run, lines } = await build([path.join(FIXTURES, 'chained')], { cacheCapBytes: 500 * 1024 });
  await run;
  const log = lines.join('\n');
  assert.match(log, /removed the oldest buildpack cache \(oldest\)/);
  assert.doesNotMatch(log, /\(recent\)/);
  assert.ok(!fs.existsSync(path.join(cacheDir, 'buildpacks', 'oldest')));
  assert.ok(fs.existsSync(path.join(cacheDir, 'buildpacks', 'recent')), 'the most recent cache is kept');
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

test('a local folder is refused unless the server allows local buildpacks', async () => {
  const { run } = await build([path.join(FIXTURES, 'counter')], {
    sources: { builtinDir: defaultBuiltinDir(), allowLocal: false },
  });
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'));
    assert.match(err.message, /local folders are not allowed on this server \(SLIPWAY_ALLOW_LOCAL_BUILDPACKS=1\)/);
    return true;
  });
});

test('a release that prints what is not YAML of the API fails the build, naming the buildpack', async () => {
  const bp = buildpack({ compile: 'exit 0', release: 'echo "default_process_types: [1, 2]"' });
  const { run } = await build([bp]);
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'));
    assert.equal(err.message, `buildpack ${bp}: bin/release printed invalid YAML (default_process_types is not a map)`);
    return true;
  });
});

test('a buildpack without bin/compile, and one whose release fails, are named with what went wrong', async () => {
  const none = buildpack({ detect: 'echo Empty' });
  await assert.rejects((await build([none])).run, { message: `buildpack ${none}: has no executable bin/compile` });
  const badRelease = buildpack({ compile: 'exit 0', release: 'exit 4' });
  await assert.rejects((await build([badRelease])).run, {
    message: `buildpack ${badRelease}: bin/release exited with code 4`,
  });
});

test('a buildpack past the build timeout is killed and named', async () => {
  const slow = buildpack({ compile: 'echo started; sleep 60' });
  const { run } = await build(['procfile', slow], { timeoutMs: 3000 });
  const t0 = Date.now();
  await assert.rejects(run, (err) => {
    assert.ok(isSlipwayError(err, 'build.failed'));
    assert.equal(err.message, `buildpack ${slow}: bin/compile ran past the build timeout of 3 s and was killed`);
    return true;
  });
  assert.ok(Date.now() - t0 < 10_000);
});

test('buildpack names: built-ins and their Heroku/Scalingo aliases, git URLs with a ref, folders; others refused', () => {
  assert.deepEqual(parseBuildpackSpec('heroku/nodejs'), { kind: 'builtin', name: 'nodejs', text: 'heroku/nodejs' });
  assert.deepEqual(parseBuildpackSpec('scalingo/procfile'), {
    kind: 'builtin',
    name: 'procfile',
    text: 'scalingo/procfile',
  });
  assert.deepEqual(parseBuildpackSpec('https://github.com/a/b.git#v1.2'), {
    kind: 'git',
    url: 'https://github.com/a/b.git',
    ref: 'v1.2',
    text: 'https://github.com/a/b.git#v1.2',
  });
  assert.equal(parseBuildpackSpec('https://github.com/a/b').kind, 'git');
  assert.deepEqual(parseBuildpackSpec('file:///srv/bp'), { kind: 'local', path: '/srv/bp', text: 'file:///srv/bp' });
  for (const bad of [
    '',
    'heroku/ruby',
    'git@github.com:a/b.git',
    'ssh://h/x',
    '/srv/../etc',
    'https://h/x#a..b',
    'a b',
  ]) {
    assert.throws(
      () => parseBuildpackSpec(bad),
      (err) => isSlipwayError(err, 'buildpack.invalid'),
      bad,
    );
  }
});
