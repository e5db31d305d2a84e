// What only the sandbox driver promises, beyond the shared runtime contract:
// limits from the container size (memory → out of memory, pids → a fork bomb
// is contained), nothing left behind after many cycles, and sandboxed builds.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/build/build-app.ts';
import { limitsOf } from '../../src/core/container-size.ts';
import { isSlipwayError } from '../../src/core/errors.ts';
import { runProcess } from '../../src/exec/index.ts';
import type { ContainerSpec, RuntimeDriver } from '../../src/runtime/index.ts';
import { cgroupParents } from '../../src/runtime/sandbox/cgroup-v1.ts';
import { createSandboxDriver, sandboxBuildRunner } from '../../src/runtime/sandbox/index.ts';
import { lineLog, processesWith, writeSlug } from '../helpers/runtime-helpers.ts';
import { baseEnv } from '../helpers/slipway.ts';
import { openTestSandbox } from '../helpers/test-sandbox.ts';

const opened = await openTestSandbox();
const skip = 'missing' in opened ? `sandbox unavailable: ${opened.missing}` : false;
const TIMEOUT = { timeout: 60_000 };

/** Pids of host processes running as `uid`. */
function processesOf(uid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid && !/^State:\s+Z/m.test(status)) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Child cgroups under Slipway's parent, per controller, of this test's own containers (`s<pid>-<n>`):
 * servers of other Slipway homes on the host add and remove theirs (`slipway/<home key>`) meanwhile.
 */
function cgroupChildren(): string[] {
  return Object.values(cgroupParents('slipway')).flatMap((parent) =>
    existsSync(parent)
      ? readdirSync(parent, { withFileTypes: true })
          .filter((e) => e.isDirectory() && e.name.startsWith(`s${process.pid}-`))
          .map((e) => path.join(parent, e.name))
      : [],
  );
}

describe('sandbox driver specifics', { skip }, () => {
  let root: string;
  let slugDir: string;
  let containersDir: string;
  let driver: RuntimeDriver;
  let sequence = 0;
  // A uid no other test uses, so process scans see only these containers.
  const user = { uid: randomInt(40_000, 50_000), gid: 0 };
  user.gid = user.uid;

  const spec = (command: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
    id: `s${process.pid}-${++sequence}`,
    app: 'demo',
    name: `one-off-${sequence}`,
    slugDir,
    command,
    env: { APP: 'demo' },
    exposePort: false,
    user,
    limits: limitsOf('S'),
    onLine: () => {},
    ...extra,
  });

  before(async () => {
    if (!('sandbox' in opened)) return;
    root = await mkdtemp(path.join(tmpdir(), 'slipway-sandbox-'));
    slugDir = path.join(root, 'slug');
    containersDir = path.join(root, 'containers');
    await writeSlug(slugDir, user);
    driver = createSandboxDriver({ sandbox: opened.sandbox, containersDir });
  });
  after(async () => {
    await driver?.close(0);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reports a container killed for exceeding its memory as out of memory', TIMEOUT, async () => {
    const log = lineLog();
    const handle = await driver.start(
      spec("echo $CONTAINER_MEMORY; node -e 'const a = []; for (;;) a.push(Buffer.alloc(16 << 20, 1))'", {
        onLine: log.onLine,
      }),
    );
    assert.deepEqual(await handle.exited, { code: null, signal: 'SIGKILL', outOfMemory: true });
    // A container that ends normally is not reported as out of memory.
    const fine = await driver.start(spec("node -e 'Buffer.alloc(64 << 20, 1)'"));
    assert.deepEqual(await fine.exited, { code: 0, signal: null });
  });

  it('contains a fork bomb at the pids limit; the host and other containers carry on', TIMEOUT, async () => {
    // A classic shell bomb (in a subshell, so the container lives on to be inspected); under a hard
    // limit dash gives up once forks fail, so the refused forks are what proves the limit held.
    const log = lineLog();
    const bomb = await driver.start(
      spec('(b() { b & b & wait; }; b) 2>/dev/null; echo bomb-over; exec sleep 600', { onLine: log.onLine }),
    );
    const other = lineLog();
    const bystander = await driver.start(spec('node -e "console.log(6 * 7)"', { onLine: other.onLine }));
    await log.waitFor(([, line]) => line === 'bomb-over', 20_000);
    const cgroup = path.join(cgroupParents('slipway').pids, bomb.id);
    assert.equal(readFileSync(path.join(cgroup, 'pids.max'), 'utf8').trim(), String(limitsOf('S').pids));
    const refused = Number(/^max (\d+)/m.exec(readFileSync(path.join(cgroup, 'pids.events'), 'utf8'))?.[1]);
    assert.ok(refused > 0, 'the bomb never reached the pids limit');
    // Another container and the host kept starting processes.
    assert.deepEqual(await bystander.exited, { code: 0, signal: null });
    assert.deepEqual(other.lines, [['stdout', '42']]);
    assert.equal((await runProcess(['true'], { env: baseEnv() })).code, 0);
    assert.equal((await bomb.stop(0)).signal, 'SIGKILL');
    assert.deepEqual(processesOf(user.uid), []);
    assert.equal(existsSync(cgroup), false, 'the bomb’s cgroup is left behind');
  });

  it('leaves no mount, cgroup, process or directory behind after 50 start/stop cycles', TIMEOUT, async () => {
    const cgroupsBefore = cgroupChildren();
    for (let i = 0; i < 50; i++) {
      const mode = i % 3;
      const log = lineLog();
      const handle = await driver.start(
        spec(
          mode === 0 ? 'sleep 600 & echo started' : "trap 'exit 0' TERM; echo started; while :; do sleep 0.1; done",
          {
            onLine: log.onLine,
          },
        ),
      );
      await log.waitFor(([, line]) => line === 'started');
      if (mode === 0) await handle.exited;
      else await handle.stop(mode === 1 ? 0 : 2000);
    }
    const mounts = readFileSync('/proc/mounts', 'utf8');
    assert.equal(mounts.includes(containersDir), false, 'a container mount shows on the host');
    assert.equal(mounts.includes('/run/slipway-sandbox'), false, 'a sandbox mount leaked to the host');
    assert.deepEqual(cgroupChildren(), cgroupsBefore);
    assert.deepEqual(processesOf(user.uid), []);
    assert.deepEqual(readdirSync(containersDir), []);
  });

  it(
    'a released hook container ends with nothing of it left running, its background processes included',
    TIMEOUT,
    async () => {
      // What the hook step relies on: once `ended` settles, no process of the container runs, even one
      // it left in the background that ignores SIGTERM; once `exited` settles, its cgroups and layer are gone.
      for (let i = 0; i < 5; i++) {
        const marker = `600.${process.pid}${randomInt(100_000, 999_999)}`;
        const log = lineLog();
        const prepared = await driver.prepare(
          spec(`(trap '' TERM; exec sleep ${marker}) & echo started; exit 3`, {
            name: 'postdeploy-1',
            onLine: log.onLine,
          }),
        );
        const handle = await prepared.start();
        assert.deepEqual(await handle.ended, { code: 3, signal: null });
        assert.deepEqual(log.lines, [['stdout', 'started']]);
        assert.deepEqual(await processesWith(marker), [], 'a background process outlived the container');
        await handle.exited;
        assert.equal(existsSync(path.join(cgroupParents('slipway').pids, handle.id)), false, 'cgroup left behind');
        assert.equal(existsSync(path.join(containersDir, handle.id)), false, 'layer left behind');
      }
    },
  );

  it('refuses to start once closed, like every driver', TIMEOUT, async () => {
    const closed = createSandboxDriver({
      sandbox: 'sandbox' in opened ? opened.sandbox : (undefined as never),
      containersDir,
    });
    await closed.close(0);
    await assert.rejects(closed.start(spec('true')), (err: unknown) => isSlipwayError(err, 'runtime.start_failed'));
  });

  it('runs build steps sandboxed as the app’s user, writing only the build and its cache', TIMEOUT, async () => {
    if (!('sandbox' in opened)) return;
    const buildDir = path.join(root, 'build');
    const cacheDir = path.join(root, 'cache');
    await mkdir(buildDir);
    const script = [
      'id -u > built-by.txt',
      '(touch /usr/local/x 2>/dev/null && echo usr-writable) || echo usr-read-only',
      `(ls ${JSON.stringify(containersDir)} >/dev/null 2>&1 && echo host-visible) || echo host-hidden`,
      'echo "ps: $(ls /proc | grep -c "^[0-9]")"',
    ].join(' && ');
    await writeFile(path.join(buildDir, 'package.json'), JSON.stringify({ name: 'b', scripts: { build: script } }));
    await writeFile(path.join(buildDir, 'Procfile'), 'web: node server.js\n');
    const lines: string[] = [];
    const result = await buildApp({
      app: 'demo',
      buildDir,
      cacheDir,
      sourceVersion: null,
      onLine: (line) => lines.push(line),
      runner: sandboxBuildRunner(opened.sandbox, user),
    });
    assert.deepEqual(result.processes, { web: 'node server.js' });
    assert.equal(readFileSync(path.join(buildDir, 'built-by.txt'), 'utf8').trim(), String(user.uid), lines.join('\n'));
    // The build's output, as the nodejs buildpack indents it.
    const said = lines.map((line) => line.trim());
    assert.ok(said.includes('usr-read-only'), lines.join('\n'));
    assert.ok(said.includes('host-hidden'), lines.join('\n'));
    assert.equal(statSync(path.join(buildDir, 'package.json')).uid, user.uid, 'the source is handed to the app');
    assert.equal(statSync(cacheDir).uid, user.uid, 'the cache belongs to the app');
  });

  it('runs buildpacks with their copies and ENV_DIR read-only, ENV_DIR the app’s alone', TIMEOUT, async () => {
    if (!('sandbox' in opened)) return;
    const base = await mkdtemp(path.join(root, 'workspace-'));
    const buildDir = path.join(base, 'build');
    await mkdir(path.join(buildDir, 'bin'), { recursive: true });
    await writeFile(path.join(buildDir, 'Procfile'), 'web: node server.js\n');
    // The app is its own buildpack (inline): it tries to write where it must not, and where it may.
    const compile = [
      '#!/bin/sh',
      'bp_dir=$(cd "$(dirname "$0")/.." && pwd)',
      '(touch "$3/NEW" 2>/dev/null && echo env-writable) || echo env-read-only',
      'echo "env: $(cat "$3/SECRET")"',
      'echo "env mode: $(stat -c %a "$3") $(stat -c %u "$3/SECRET")"',
      'touch "$1/../escape" 2>/dev/null || :',
      'echo "export OK=1" > "$bp_dir/export" && echo export-written',
    ].join('\n');
    await writeFile(path.join(buildDir, 'bin', 'compile'), `${compile}\n`, { mode: 0o755 });
    const lines: string[] = [];
    await buildApp({
      app: 'demo',
      buildDir,
      cacheDir: path.join(base, 'cache'),
      sourceVersion: null,
      config: { SECRET: 's3cret' },
      onLine: (line) => lines.push(line),
      runner: sandboxBuildRunner(opened.sandbox, user),
    });
    const log = lines.join('\n');
    assert.match(log, /-----> Inline app detected/);
    assert.ok(lines.includes('env-read-only'), log);
    assert.ok(lines.includes('env: s3cret'), log);
    assert.ok(lines.includes(`env mode: 700 ${user.uid}`), log);
    assert.ok(!existsSync(path.join(base, 'escape')), 'nothing is written beside the build on the host');
    assert.ok(lines.includes('export-written'), log);
    assert.ok(!existsSync(`${buildDir}.buildpacks`), 'the workspace is removed after the build');
  });

  it(
    'hands small and large source trees to the app’s user, changing symlinks but never their targets',
    TIMEOUT,
    async () => {
      if (!('sandbox' in opened)) return;
      // 3 files take the in-process path, 400 the `chown -R` one: both must give the same result.
      for (const count of [3, 400]) {
        const base = await mkdtemp(path.join(root, `chown-${count}-`));
        const buildDir = path.join(base, 'build');
        const cacheDir = path.join(base, 'cache');
        const outside = path.join(base, 'outside.txt');
        await mkdir(path.join(buildDir, 'sub'), { recursive: true });
        await mkdir(cacheDir);
        await writeFile(outside, 'root owns me');
        for (let i = 0; i < count; i++) await writeFile(path.join(buildDir, 'sub', `f${i}.txt`), String(i));
        await symlink(outside, path.join(buildDir, 'link'));
        await symlink(base, path.join(buildDir, 'dir-link'));
        await sandboxBuildRunner(opened.sandbox, user).prepare({ buildDir, cacheDir });
        const owners = new Set(
          [buildDir, cacheDir, path.join(buildDir, 'sub'), path.join(buildDir, 'link'), path.join(buildDir, 'dir-link')]
            .concat(readdirSync(path.join(buildDir, 'sub')).map((name) => path.join(buildDir, 'sub', name)))
            .map((entry) => lstatSync(entry).uid),
        );
        assert.deepEqual([...owners], [user.uid], `${count} files`);
        assert.equal(statSync(outside).uid, 0, `${count} files: a symlink's target changed owner`);
        assert.equal(statSync(base).uid, 0, `${count} files: a symlinked directory changed owner`);
      }
    },
  );
});
