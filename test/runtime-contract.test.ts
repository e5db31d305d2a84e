// The runtime contract: behaviour every RuntimeDriver must show, proven with
// real processes. Each driver runs the same suite via `runtimeContract(...)`;
// a new driver is added by one more call at the bottom.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it as nodeIt, type TestFn } from 'node:test';
import { isSlipwayError } from '../src/core/errors.ts';
import { runProcess } from '../src/exec/index.ts';
import {
  type ContainerHandle,
  type ContainerSpec,
  createPortAllocator,
  createProcessDriver,
  type RuntimeDriver,
  waitForPort,
} from '../src/runtime/index.ts';
import { mountThenExec, probeOverlay } from '../src/runtime/overlay-mount.ts';
import { createSandboxDriver, type Sandbox } from '../src/runtime/sandbox/index.ts';
import {
  eventually,
  httpGet,
  type LineLog,
  lineLog,
  mountsUnder,
  processesWith,
  snapshot,
  writeSlug,
} from './helpers/runtime-helpers.ts';
import { openTestDocker } from './helpers/test-docker.ts';
import { openTestSandbox } from './helpers/test-sandbox.ts';
import { openTestSwarm } from './helpers/test-swarm.ts';
import { delay } from './helpers/wait.ts';

const TEST_TIMEOUT = { timeout: 15_000 };
/** Keeps the SIGTERM handlers below alive without a long-lived `sleep` of their own. */
const IDLE_LOOP = 'while :; do sleep 0.1; done';

let sequence = 0;
/** The app's own user, which owns its slug (builds run as it). */
const APP_USER = { uid: 64_123, gid: 64_123 } as const;

// The sandbox suite runs wherever the sandbox can (CI installs bubblewrap); elsewhere it says why not.
const opened = await openTestSandbox();
const sandboxMissing = 'missing' in opened ? `sandbox unavailable: ${opened.missing}` : false;
function requireSandbox(): Sandbox {
  if (!('sandbox' in opened)) throw new Error('sandbox unavailable');
  return opened.sandbox;
}

/** A marker token for `sleep`, unique per call, so /proc scans only see our own processes. */
function sleepMarker(): string {
  return `600.${process.pid}${randomInt(100_000, 999_999)}`;
}

// The docker suite runs wherever dockerd answers and the stack image exists (CI makes both).
const docker = await openTestDocker();
function requireDocker(dir: string): RuntimeDriver {
  if (!('newDriver' in docker)) throw new Error('docker unavailable');
  return docker.newDriver(dir);
}

function runtimeContract(
  name: string,
  newDriver: (dir: string) => RuntimeDriver,
  /** `notApplicable`: cases this driver cannot show, by name, each with its reason (reported as skipped). */
  options: { skip?: string | false; notApplicable?: Readonly<Record<string, string>> } = {},
): void {
  const it = (title: string, opts: { timeout: number }, fn: TestFn) =>
    nodeIt(title, { ...opts, skip: options.notApplicable?.[title] ?? false }, fn);
  describe(`runtime contract: ${name}`, { skip: options.skip }, () => {
    let root: string;
    let slugDir: string;
    let containersDir: string;
    let driver: RuntimeDriver;

    const startContainer = (
      command: string,
      extra: Partial<ContainerSpec> = {},
    ): Promise<[ContainerHandle, LineLog]> => {
      const log = lineLog();
      const id = `c${process.pid}-${++sequence}`;
      const spec: ContainerSpec = {
        id,
        app: 'demo',
        name: 'web-1',
        slugDir,
        command,
        env: { APP: 'demo', CONTAINER: 'web-1' },
        exposePort: false,
        user: APP_USER,
        onLine: log.onLine,
        ...extra,
      };
      return driver.start(spec).then((handle) => [handle, log]);
    };

    before(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'slipway-runtime-'));
      slugDir = path.join(root, 'slug');
      containersDir = path.join(root, 'containers');
      await writeSlug(slugDir, APP_USER);
    });
    beforeEach(() => {
      driver = newDriver(containersDir);
    });
    afterEach(async () => {
      await driver.close(0);
    });
    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it(
      'runs the command from the app root with the spec environment and none of the server’s',
      TEST_TIMEOUT,
      async () => {
        const saved = { leak: process.env.SLIPWAY_CONTRACT_LEAK, ca: process.env.NODE_EXTRA_CA_CERTS };
        process.env.SLIPWAY_CONTRACT_LEAK = 'leaked';
        process.env.NODE_EXTRA_CA_CERTS = '/etc/leaked-ca.pem';
        try {
          const command = [
            'echo "app=$APP container=$CONTAINER custom=$CUSTOM_VAR"',
            'echo "port=$PORT"',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
            'echo "leak=${SLIPWAY_CONTRACT_LEAK-unset} ca=${NODE_EXTRA_CA_CERTS-unset}"',
            'test -f server.js && echo "cwd=app-root"',
            'test "$HOME" = "$(pwd)" && echo "home=app-root"',
            'node -e "console.log(\'node=\' + typeof process.version)"',
            'read -r line; echo "stdin=$?"',
          ].join('\n');
          const [handle, log] = await startContainer(command, {
            exposePort: true,
            // A config var named PORT must not override the allocated port.
            env: { APP: 'demo', CONTAINER: 'web-1', CUSTOM_VAR: 'a b $c', PORT: '1' },
          });
          assert.equal((await handle.exited).code, 0, JSON.stringify(log.lines));
          assert.ok(handle.address);
          assert.deepEqual(log.lines, [
            ['stdout', 'app=demo container=web-1 custom=a b $c'],
            ['stdout', `port=${handle.address.port}`],
            ['stdout', 'leak=unset ca=unset'],
            ['stdout', 'cwd=app-root'],
            ['stdout', 'home=app-root'],
            ['stdout', 'node=string'],
            ['stdout', 'stdin=1'],
          ]);
        } finally {
          for (const [key, value] of [
            ['SLIPWAY_CONTRACT_LEAK', saved.leak],
            ['NODE_EXTRA_CA_CERTS', saved.ca],
          ] as const) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
          }
        }
      },
    );

    it(
      'a volume at /app/data is one storage for every container given its id, until removeVolume deletes it for good',
      TEST_TIMEOUT,
      async () => {
        const volume = { id: `v-${randomInt(10_000_000, 99_999_999)}`, path: '/app/data', sizeBytes: 32 * 1024 * 1024 };
        const run = async (command: string) => {
          const [handle, log] = await startContainer(command, { volumes: [volume] });
          assert.equal((await handle.exited).code, 0, JSON.stringify(log.lines));
          return log.lines.map(([, line]) => line);
        };
        // Two containers at once write to it; a later one reads both files.
        await Promise.all([run('echo one > data/first'), run('echo two > data/second')]);
        assert.deepEqual(await run('cat data/first data/second'), ['one', 'two']);
        await driver.removeVolume(volume.id);
        // Its data is gone, and a container started from a spec read before the removal does not make it again.
        await assert.rejects(startContainer('true', { volumes: [volume] }), /the volume at \/app\/data was removed/);
        assert.deepEqual(await readdir(path.join(root, 'volumes')), []);
        await driver.removeVolume(volume.id); // idempotent
      },
    );

    it('sets no PORT and reports no address when no port is exposed', TEST_TIMEOUT, async () => {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      const [handle, log] = await startContainer('echo "port=${PORT-unset}"');
      assert.equal(handle.address, null);
      assert.equal((await handle.exited).code, 0);
      assert.deepEqual(log.lines, [['stdout', 'port=unset']]);
    });

    it('makes a web app reachable at its address, listening on 0.0.0.0 or 127.0.0.1', TEST_TIMEOUT, async () => {
      const started = await Promise.all(
        ['0.0.0.0', '127.0.0.1'].map((listenHost, i) =>
          startContainer('node server.js', {
            name: `web-${i + 1}`,
            exposePort: true,
            env: { APP: 'demo', CONTAINER: `web-${i + 1}`, LISTEN_HOST: listenHost },
          }),
        ),
      );
      const addresses = started.map(([handle]) => handle.address);
      assert.notEqual(addresses[0]?.port, addresses[1]?.port, 'two live containers share a port');
      for (const [i, [handle, log]] of started.entries()) {
        assert.ok(handle.address);
        const { host, port } = handle.address;
        assert.equal(await waitForPort(host, port, { timeoutMs: 5000 }), true, JSON.stringify(log.lines));
        assert.deepEqual(await httpGet(host, port), { status: 200, body: `hello from web-${i + 1}` });
        assert.deepEqual(log.lines, [['stdout', `listening on ${port}`]]);
      }
      const exits = await Promise.all(started.map(([handle]) => handle.stop(2000)));
      assert.deepEqual(exits, [
        { code: null, signal: 'SIGTERM' },
        { code: null, signal: 'SIGTERM' },
      ]);
    });

    it('names the TCP ports a container listens on: its PORT, or another', TEST_TIMEOUT, async () => {
      const [handle, log] = await startContainer('node server.js', {
        exposePort: true,
        env: { APP: 'demo', CONTAINER: 'web-1', LISTEN_HOST: '127.0.0.1' },
      });
      assert.ok(handle.address);
      assert.equal(await waitForPort(handle.address.host, handle.address.port, { timeoutMs: 5000 }), true);
      assert.deepEqual(handle.listeningPorts?.(), [handle.address.port], JSON.stringify(log.lines));
      await handle.stop(0);
      const [other] = await startContainer(
        `node -e "const s=require('net').createServer().listen(0,()=>console.log('on',s.address().port))"`,
        { exposePort: true },
      );
      const port = await eventually(
        async () => other.listeningPorts?.() ?? [],
        (ports) => ports.length > 0,
        5000,
      );
      assert.equal(port.length, 1);
      assert.notEqual(port[0], other.address?.port);
      await other.stop(0);
    });

    it('captures stdout and stderr line by line, in the order they were printed', TEST_TIMEOUT, async () => {
      // The pauses make the order across the two pipes observable.
      const command = [
        'echo out-1',
        'sleep 0.2',
        'echo err-1 >&2',
        'sleep 0.2',
        'echo out-2',
        'echo out-3',
        'sleep 0.2',
        'echo err-2 >&2',
        'sleep 0.2',
        'printf last-without-newline',
      ].join('\n');
      const [handle, log] = await startContainer(command);
      await handle.exited;
      assert.deepEqual(log.lines, [
        ['stdout', 'out-1'],
        ['stderr', 'err-1'],
        ['stdout', 'out-2'],
        ['stdout', 'out-3'],
        ['stderr', 'err-2'],
        ['stdout', 'last-without-newline'],
      ]);
    });

    it('reports the exit code of the command, or the signal that ended it', TEST_TIMEOUT, async () => {
      // A driver whose engine restarts failed containers (swarm) reports the first failure instead of an end.
      const failure = (handle: ContainerHandle) =>
        handle.firstFailure ? Promise.race([handle.exited, handle.firstFailure]) : handle.exited;
      const [failed] = await startContainer('echo bye; exit 3');
      assert.deepEqual(await failure(failed), { code: 3, signal: null });
      const [killed] = await startContainer('kill -KILL $$');
      assert.deepEqual(await failure(killed), { code: null, signal: 'SIGKILL' });
      const [terminated] = await startContainer('kill -TERM $$');
      assert.deepEqual(await failure(terminated), { code: null, signal: 'SIGTERM' });
      const [high] = await startContainer('exit 120');
      assert.deepEqual(await failure(high), { code: 120, signal: null });
    });

    it('stop sends SIGTERM and lets the process exit on its own within the grace period', TEST_TIMEOUT, async () => {
      const [handle, log] = await startContainer(`trap 'echo got-term; exit 7' TERM\necho ready\n${IDLE_LOOP}`);
      await log.waitFor(([, line]) => line === 'ready');
      const t0 = Date.now();
      const exit = await handle.stop(5000);
      assert.ok(Date.now() - t0 < 3000, 'waited for the whole grace period');
      assert.deepEqual(exit, { code: 7, signal: null });
      assert.ok(log.lines.some(([, line]) => line === 'got-term'));
      // Stopping again, or after the end, is harmless and reports the same exit.
      assert.deepEqual(await handle.stop(5000), exit);
      assert.deepEqual(await handle.exited, exit);
    });

    it('stop kills a process that ignores SIGTERM once the grace period is over', TEST_TIMEOUT, async () => {
      const [handle, log] = await startContainer(`trap '' TERM\necho ready\n${IDLE_LOOP}`);
      await log.waitFor(([, line]) => line === 'ready');
      const t0 = Date.now();
      const exit = await handle.stop(400);
      const elapsed = Date.now() - t0;
      assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
      assert.ok(elapsed >= 350 && elapsed < 3000, `stopped after ${elapsed} ms`);
    });

    it('stop after the container ended on its own is harmless', TEST_TIMEOUT, async () => {
      const [handle] = await startContainer('exit 0');
      const exit = await handle.exited;
      assert.deepEqual(await Promise.all([handle.stop(0), handle.stop(1000)]), [exit, exit]);
    });

    it('stopping a container kills its whole process tree', TEST_TIMEOUT, async () => {
      const marker = sleepMarker();
      const [handle, log] = await startContainer(`sleep ${marker} & sleep ${marker} & echo ready; wait`);
      await log.waitFor(([, line]) => line === 'ready');
      const running = await eventually(
        () => processesWith(marker),
        (pids) => pids.length === 2,
      );
      assert.equal(running.length, 2, 'the background processes never showed up');
      await handle.stop(1000);
      assert.deepEqual(
        await eventually(
          () => processesWith(marker),
          (pids) => pids.length === 0,
          2000,
        ),
        [],
      );
    });

    it('stop with grace: a child that ignores SIGTERM does not outlive its container', TEST_TIMEOUT, async () => {
      const marker = sleepMarker();
      const [handle, log] = await startContainer(
        `(trap '' TERM; exec sleep ${marker}) &\ntrap 'exit 0' TERM\necho ready\n${IDLE_LOOP}`,
      );
      await log.waitFor(([, line]) => line === 'ready');
      await eventually(
        () => processesWith(marker),
        (pids) => pids.length === 1,
      );
      assert.deepEqual(await handle.stop(5000), { code: 0, signal: null });
      assert.deepEqual(
        await eventually(
          () => processesWith(marker),
          (pids) => pids.length === 0,
          2000,
        ),
        [],
      );
    });

    it('a command that backgrounds a process and exits leaves nothing behind', TEST_TIMEOUT, async () => {
      const marker = sleepMarker();
      const [handle] = await startContainer(`sleep ${marker} &\necho started\nexit 0`);
      assert.deepEqual(await handle.exited, { code: 0, signal: null });
      assert.deepEqual(
        await eventually(
          () => processesWith(marker),
          (pids) => pids.length === 0,
          2000,
        ),
        [],
      );
    });

    it('containers of one slug never see each other’s files, and the slug stays untouched', TEST_TIMEOUT, async () => {
      const slugBefore = await snapshot(slugDir);
      // The reader is live while the writer changes its own view; it reports what it sees when asked over
      // HTTP (the one channel every driver offers: a sandbox shares no files with the host).
      const [reader, readerLog] = await startContainer('node peek.js', { name: 'web-1', exposePort: true });
      await readerLog.waitFor(([, line]) => line === 'ready');
      const [writer, writerLog] = await startContainer(
        [
          './write.sh created.txt',
          'echo changed >> README',
          'rm write.sh',
          'rm -r lib',
          'mkdir new-dir',
          'echo "readme=$(tail -n 1 README)"',
          '[ -e write.sh ] || echo write-sh-gone',
          'cat created.txt',
        ].join('\n'),
        { name: 'postdeploy-1', env: { APP: 'demo', CONTAINER: 'postdeploy-1' } },
      );
      assert.equal((await writer.exited).code, 0, JSON.stringify(writerLog.lines));
      assert.deepEqual(
        writerLog.lines.map(([, line]) => line),
        ['readme=changed', 'write-sh-gone', 'written'],
      );
      assert.ok(reader.address);
      const seen = await httpGet(reader.address.host, reader.address.port);
      assert.equal(seen.body, ['readme=original', 'has write.sh', 'has lib/data.txt'].join('\n'));
      assert.deepEqual(await reader.exited, { code: 0, signal: null });
      assert.deepEqual(await snapshot(slugDir), slugBefore);
    });

    it('removes the container directory and every mount once the container ends', TEST_TIMEOUT, async () => {
      const [ended] = await startContainer('echo hi > note.txt');
      const [stopped] = await startContainer(`cd lib && ${IDLE_LOOP}`);
      await ended.exited;
      await stopped.stop(0);
      for (const handle of [ended, stopped]) {
        assert.equal(existsSync(path.join(containersDir, handle.id)), false, `${handle.id} left behind`);
      }
      assert.deepEqual(await mountsUnder(root), []);
    });

    it('fails with runtime.start_failed when the slug is missing, leaving nothing behind', TEST_TIMEOUT, async () => {
      const id = `c${process.pid}-${++sequence}`;
      await assert.rejects(
        driver.start({
          id,
          app: 'demo',
          name: 'web-1',
          slugDir: path.join(root, 'no-such-slug'),
          command: 'true',
          env: {},
          exposePort: true,
          onLine: () => {},
        }),
        (err: unknown) => isSlipwayError(err, 'runtime.start_failed'),
      );
      assert.equal(existsSync(path.join(containersDir, id)), false);
      assert.deepEqual(await mountsUnder(root), []);
    });

    const containerSpec = (command: string, log: LineLog, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
      id: `c${process.pid}-${++sequence}`,
      app: 'demo',
      name: 'postdeploy-1',
      slugDir,
      command,
      env: { APP: 'demo', CONTAINER: 'postdeploy-1' },
      exposePort: false,
      user: APP_USER,
      onLine: log.onLine,
      ...extra,
    });

    it('a prepared container runs its command only once started; ended and exited agree', TEST_TIMEOUT, async () => {
      const log = lineLog();
      const spec = containerSpec('echo ran; exit 4', log);
      const prepared = await driver.prepare(spec);
      await delay(200);
      assert.deepEqual(log.lines, [], 'the command ran before start()');
      const handle = await prepared.start();
      const ended = await handle.ended;
      assert.deepEqual(ended, { code: 4, signal: null });
      // Output is complete once the container has ended, before its view is gone.
      assert.deepEqual(log.lines, [['stdout', 'ran']]);
      assert.deepEqual(await handle.exited, ended);
      assert.equal(existsSync(path.join(containersDir, spec.id)), false);
      await assert.rejects(prepared.start(), (err: unknown) => isSlipwayError(err, 'runtime.start_failed'));
    });

    it('ended settles only once every process of the container is gone', TEST_TIMEOUT, async () => {
      const marker = sleepMarker();
      const log = lineLog();
      const handle = await (await driver.prepare(containerSpec(`sleep ${marker} &\nexit 0`, log))).start();
      assert.deepEqual(await handle.ended, { code: 0, signal: null });
      assert.deepEqual(await processesWith(marker), []);
    });

    it('a discarded container leaves nothing behind and frees its id', TEST_TIMEOUT, async () => {
      const log = lineLog();
      const marker = sleepMarker();
      const spec = containerSpec(`echo ran; sleep ${marker} & wait`, log, { exposePort: true });
      const prepared = await driver.prepare(spec);
      assert.equal(existsSync(path.join(containersDir, spec.id)), true);
      await assert.rejects(driver.prepare(spec), (err: unknown) => isSlipwayError(err, 'runtime.start_failed'));
      await prepared.discard();
      await prepared.discard(); // idempotent
      assert.deepEqual(await processesWith(marker), []);
      assert.equal(existsSync(path.join(containersDir, spec.id)), false);
      assert.deepEqual(await mountsUnder(root), []);
      await assert.rejects(prepared.start(), (err: unknown) => isSlipwayError(err, 'runtime.start_failed'));
      assert.deepEqual(log.lines, []);
      // The same id can be used again.
      const again = await (await driver.prepare({ ...spec, command: 'echo ran' })).start();
      assert.deepEqual(await again.exited, { code: 0, signal: null });
      assert.deepEqual(log.lines, [['stdout', 'ran']]);
    });

    it('close discards prepared containers; starting one then fails', TEST_TIMEOUT, async () => {
      const log = lineLog();
      const spec = containerSpec('echo ran', log);
      const prepared = await driver.prepare(spec);
      await driver.close(0);
      assert.equal(existsSync(path.join(containersDir, spec.id)), false);
      assert.deepEqual(await mountsUnder(root), []);
      await assert.rejects(prepared.start(), (err: unknown) => isSlipwayError(err, 'runtime.start_failed'));
      assert.deepEqual(log.lines, []);
    });

    it('close stops every live container in parallel and refuses new ones', TEST_TIMEOUT, async () => {
      const started = await Promise.all(
        [1, 2, 3].map((i) => startContainer(`trap '' TERM\necho ready\n${IDLE_LOOP}`, { name: `worker-${i}` })),
      );
      await Promise.all(started.map(([, log]) => log.waitFor(([, line]) => line === 'ready')));
      const t0 = Date.now();
      await driver.close(500);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 1400, `close took ${elapsed} ms: containers were stopped one by one`);
      for (const [handle] of started) assert.deepEqual(await handle.exited, { code: null, signal: 'SIGKILL' });
      await assert.rejects(startContainer('true'), (err: unknown) => isSlipwayError(err, 'runtime.start_failed'));
    });
  });
}

runtimeContract('process', (dir) => createProcessDriver({ containersDir: dir }));
runtimeContract('process (copied views)', (dir) => createProcessDriver({ containersDir: dir, writableView: 'copy' }));
runtimeContract('sandbox', (dir) => createSandboxDriver({ sandbox: requireSandbox(), containersDir: dir }), {
  skip: sandboxMissing,
});
runtimeContract('docker', requireDocker, {
  skip: 'missing' in docker ? docker.missing : false,
  notApplicable: {
    // Measured here: stop(0) of one container takes ~300 ms in dockerd (kill, unmount its /app volume,
    // remove), and dockerd serialises much of three removals: close(500) of three takes 1.5-1.7 s
    // against 2.4 s one by one, over this case's 1.4 s bound (set for drivers whose teardown is ~10 ms).
    'close stops every live container in parallel and refuses new ones':
      'dockerd removes containers too slowly for its 1.4 s bound (measured above); the stop and removal themselves are shown by the cases before',
  },
});

// The swarm suite runs wherever dockerd answers, is (or can be made) a swarm manager and has the stack image.
const swarm = await openTestSwarm();
const onOtherNodes =
  'Slipway cannot enter the network namespace of a task on another node: the router reaches a task at its ' +
  "node's published port, so an app must listen on 0.0.0.0 (docs/scale-out.md)";
function requireSwarm(dir: string): RuntimeDriver {
  if (!('newDriver' in swarm)) throw new Error('swarm unavailable');
  return swarm.newDriver(dir);
}
runtimeContract('swarm', requireSwarm, {
  skip: 'missing' in swarm ? swarm.missing : false,
  notApplicable: {
    'a volume at /app/data is one storage for every container given its id, until removeVolume deletes it for good':
      'a host directory cannot follow a task to another node: the swarm runtime refuses volumes (docs/scale-out.md)',
    'makes a web app reachable at its address, listening on 0.0.0.0 or 127.0.0.1': onOtherNodes,
    'names the TCP ports a container listens on: its PORT, or another': `${onOtherNodes}; nor read its sockets`,
    'containers of one slug never see each other’s files, and the slug stays untouched': onOtherNodes,
    'close stops every live container in parallel and refuses new ones':
      'each stop is a service update, a kill and a service removal through the manager: well over its 1.4 s bound',
  },
});

// What only the process driver promises: overlay views when the host allows
// them, the limits of the overlay option string, and a bounded port range.
describe('process driver specifics', () => {
  let root: string;
  let slugDir: string;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'slipway-process-'));
    slugDir = path.join(root, 'slug');
    await writeSlug(slugDir);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const spec = (overrides: Partial<ContainerSpec>): ContainerSpec => ({
    id: `p${process.pid}-${++sequence}`,
    app: 'demo',
    name: 'web-1',
    slugDir,
    command: 'true',
    env: {},
    exposePort: false,
    onLine: () => {},
    ...overrides,
  });

  nodeIt('mounts an overlay view when running as root on Linux', TEST_TIMEOUT, async (t) => {
    const reason = await probeOverlay(path.join(root, 'probe'));
    if (reason !== null) return t.skip(`overlay unavailable: ${reason}`);
    const containersDir = path.join(root, 'overlay');
    const driver = createProcessDriver({ containersDir });
    try {
      const log = lineLog();
      const handle = await driver.start(spec({ command: `echo ready\n${IDLE_LOOP}`, onLine: log.onLine }));
      await log.waitFor(([, line]) => line === 'ready');
      assert.deepEqual(await mountsUnder(containersDir), [path.join(containersDir, handle.id, 'app')]);
      await handle.stop(0);
      assert.deepEqual(await mountsUnder(containersDir), []);
    } finally {
      await driver.close(0);
    }
  });

  nodeIt(
    'a view that cannot be mounted never runs the command: exit 125, the reason on stderr',
    TEST_TIMEOUT,
    async (t) => {
      const reason = await probeOverlay(path.join(root, 'probe'));
      if (reason !== null) return t.skip(`overlay unavailable: ${reason}`);
      // What a container's first process does (mountThenExec), with a lower layer that is gone.
      const dir = await mkdtemp(path.join(root, 'unmountable-'));
      const dirs = { lower: path.join(dir, 'gone'), upper: dir, work: dir, target: dir };
      const lines: string[] = [];
      const result = await runProcess(mountThenExec(dirs, ['/bin/sh', '-c', 'echo ran']), {
        env: { PATH: '/usr/bin:/bin' },
        onLine: (stream, line) => lines.push(`${stream}: ${line}`),
        timeoutMs: 10_000,
      });
      assert.equal(result.code, 125);
      assert.ok(!lines.includes('stdout: ran'), lines.join('\n'));
      assert.ok(lines.includes("stderr: slipway: could not mount the container's view"), lines.join('\n'));
      assert.deepEqual(await mountsUnder(dir), []);
    },
  );

  nodeIt('refuses a slug path that would break the overlay mount options, but copies it', TEST_TIMEOUT, async (t) => {
    const reason = await probeOverlay(path.join(root, 'probe'));
    if (reason !== null) return t.skip(`overlay unavailable: ${reason}`);
    const oddSlug = path.join(root, 'slug,odd:name');
    await writeSlug(oddSlug);
    const overlay = createProcessDriver({ containersDir: path.join(root, 'odd-overlay') });
    const copy = createProcessDriver({ containersDir: path.join(root, 'odd-copy'), writableView: 'copy' });
    try {
      const refused = spec({ slugDir: oddSlug });
      await assert.rejects(overlay.start(refused), (err: unknown) => {
        assert.ok(isSlipwayError(err, 'runtime.start_failed'));
        assert.match(err.message, /overlayfs mount options/);
        return true;
      });
      assert.equal(existsSync(path.join(root, 'odd-overlay', refused.id)), false);
      const handle = await copy.start(spec({ slugDir: oddSlug, command: 'test -f server.js' }));
      assert.deepEqual(await handle.exited, { code: 0, signal: null });
    } finally {
      await Promise.all([overlay.close(0), copy.close(0)]);
    }
  });

  nodeIt('hands out ports from the configured range only, never one port twice', TEST_TIMEOUT, async () => {
    const probe = createPortAllocator();
    const port = await probe.allocate();
    const driver = createProcessDriver({ containersDir: path.join(root, 'ranged'), portRange: [port, port] });
    try {
      const first = await driver.start(spec({ command: IDLE_LOOP, exposePort: true }));
      assert.deepEqual(first.address, { host: '127.0.0.1', port });
      await assert.rejects(driver.start(spec({ exposePort: true })), (err: unknown) =>
        isSlipwayError(err, 'runtime.start_failed'),
      );
      await first.stop(0);
      // Released with the container: the next one may have it.
      const second = await driver.start(spec({ command: 'echo "port=$PORT"', exposePort: true }));
      assert.deepEqual(second.address, { host: '127.0.0.1', port });
      await second.exited;
    } finally {
      await driver.close(0);
    }
  });

  nodeIt('waitForPort answers false at the deadline when nothing listens', TEST_TIMEOUT, async () => {
    const port = await createPortAllocator().allocate();
    const t0 = Date.now();
    assert.equal(await waitForPort('127.0.0.1', port, { timeoutMs: 300 }), false);
    assert.ok(Date.now() - t0 >= 250);
    const aborted = AbortSignal.timeout(50);
    assert.equal(await waitForPort('127.0.0.1', port, { timeoutMs: 5000, signal: aborted }), false);
    await delay(0);
  });
});
