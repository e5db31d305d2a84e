// What the sandbox's network namespaces promise (docs/sandbox.md,
// "Networking"): from a container (web, hook, one-off, build step) the
// router's port on the bridge's gateway address and the outside (through NAT)
// are reachable; the host's loopback services, its other ports (Slipway's API
// listening on 0.0.0.0 included), another app's container and link-local
// addresses are not. Nothing of the network is left once the sandbox closes
// or the server stops, and a start after a crash removes what the dead run
// left. The "outside hosts" are network namespaces the test makes itself:
// these tests send traffic only to loopback and to addresses they or
// Slipway created. Skipped (with the reason) when not root, or when a tool
// is missing; CI installs them.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { chown, readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { limitsOf } from '../../src/core/container-size.ts';
import { appSearchPath, HELPER_ENV, runChecked } from '../../src/exec/index.ts';
import type { ContainerHandle, ContainerSpec, RuntimeDriver } from '../../src/runtime/index.ts';
import {
  BUILD_LIMITS,
  createSandboxDriver,
  homeKey,
  openSandbox,
  runSandboxed,
  type Sandbox,
} from '../../src/runtime/sandbox/index.ts';
import {
  contains,
  gatewayOf,
  intToIp,
  ipToInt,
  type NetworkNames,
  namesOfKey,
  type Subnet,
} from '../../src/runtime/sandbox/network-plan.ts';
import { waitForPort } from '../../src/runtime/wait-for-port.ts';
import { type OutsideHost, startOutsideHost } from '../helpers/outside-host.ts';
import { httpGet, lineLog } from '../helpers/runtime-helpers.ts';
import { FIXTURES, fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { sandboxSkipReason } from '../helpers/test-sandbox.ts';

function whyNot(): string | false {
  if (process.getuid?.() !== 0) return 'not running as root';
  const dirs = (HELPER_ENV.PATH ?? '').split(':');
  for (const tool of ['ip', 'nft', 'nsenter']) {
    if (!dirs.some((dir) => existsSync(path.join(dir, tool)))) return `${tool} is not installed`;
  }
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 is not installed (the outside host’s server)';
  return false;
}
const skip = whyNot() || (await sandboxSkipReason());
if (skip) console.log(`# sandbox network tests skipped: ${skip}`);
const TIMEOUT = { timeout: 120_000 };
const USER = { uid: 64_321, gid: 64_321 } as const;

/** One target of probe-net.js: `host` "gateway" is the container's default gateway. */
interface Target {
  readonly host: string;
  readonly port: number;
  readonly hostHeader?: string;
}

/** probe-net.js's lines of one phase: target name → `ok <status> <body>` or `blocked <code>`. */
function results(lines: readonly string[], phase: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const match = new RegExp(`net ${phase} (\\S+) (.*)$`).exec(line);
    if (match?.[1] && match[2] !== undefined) out[match[1]] = match[2];
  }
  return out;
}

/** What is left of a home's network on this host. */
async function leftOf(names: NetworkNames, netns: readonly string[] = []) {
  const tables = await runChecked(['nft', 'list', 'tables'], { env: HELPER_ENV });
  return {
    bridge: existsSync(`/sys/class/net/${names.bridge}`),
    table: tables.split('\n').some((line) => line.trim() === `table inet ${names.table}`),
    netns: (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(names.netnsPrefix)),
    veths: netns
      .map((name) => `sv-${name.slice(names.netnsPrefix.length)}`)
      .filter((veth) => existsSync(`/sys/class/net/${veth}`)),
  };
}
const NOTHING_LEFT = { bridge: false, table: false, netns: [], veths: [] };

/** An HTTP server on the host answering `name`, counting requests. */
async function hostService(name: string, host: string): Promise<{ port: number; hits: string[]; close(): void }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.socket.remoteAddress ?? '?');
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('container network, driven directly', { skip }, () => {
  let home: string;
  let sandbox: Sandbox;
  let gateway: string;
  let subnet: Subnet;
  let driver: RuntimeDriver;
  let slugDir: string;
  let outside: OutsideHost;
  let linkLocal: OutsideHost;
  const services: Record<string, Awaited<ReturnType<typeof hostService>>> = {};
  const seenNetns = new Set<string>();
  let sequence = 0;

  const spec = (command: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
    id: `net${process.pid}-${++sequence}`,
    app: 'alpha',
    name: `one-off-${sequence}`,
    slugDir,
    command,
    env: { APP: 'alpha' },
    exposePort: false,
    user: USER,
    limits: limitsOf('S'),
    onLine: () => {},
    ...extra,
  });
  const noteNetns = async () => {
    for (const name of await readdir('/run/netns'))
      if (name.startsWith(`slipway-${homeKey(home)}-`)) seenNetns.add(name);
  };

  before(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'slipway-net-home-'));
    services.loopback = await hostService('loopback', '127.0.0.1');
    services.api = await hostService('api', '0.0.0.0');
    services.router = await hostService('router', '0.0.0.0');
    // The router's port given when the sandbox opens (a configured --router-port); the real server
    // test below covers the other way, a port known only once the router listens (allowHostPorts).
    const opened = await openSandbox({
      scratchDir: path.join(home, 'probe'),
      home,
      allowHostPorts: [services.router.port],
    });
    if (!('sandbox' in opened)) throw new Error(opened.missing);
    sandbox = opened.sandbox;
    gateway = opened.network.gateway;
    const [network = '', prefix = ''] = opened.network.subnet.split('/');
    subnet = { network: ipToInt(network), prefix: Number(prefix) };
    assert.equal(intToIp(gatewayOf(subnet)), gateway);
    [outside, linkLocal] = await Promise.all([startOutsideHost('outside'), startOutsideHost('link-local')]);
    slugDir = path.join(home, 'slug');
    cpSync(path.join(FIXTURES, 'net-probe'), slugDir, { recursive: true });
    for (const entry of ['', ...readdirSync(slugDir)]) await chown(path.join(slugDir, entry), USER.uid, USER.gid);
    driver = createSandboxDriver({ sandbox, containersDir: path.join(home, 'containers') });
  });
  after(async () => {
    await driver?.close(0);
    await sandbox?.close();
    await Promise.all([outside?.close(), linkLocal?.close()]);
    for (const service of Object.values(services)) service.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** A web container of another app, and the targets every probe tries. */
  async function targetsWithOther(): Promise<{ other: ContainerHandle; targets: Record<string, Target> }> {
    const log = lineLog();
    const other = await driver.start(
      spec('node server.js', {
        app: 'beta',
        name: 'web-1',
        exposePort: true,
        env: { APP: 'beta' },
        onLine: log.onLine,
      }),
    );
    assert.ok(other.address);
    assert.equal(await waitForPort(other.address.host, other.address.port, { timeoutMs: 10_000 }), true);
    const targets: Record<string, Target> = {
      'own-loopback': { host: '127.0.0.1', port: services.loopback.port },
      'host-loopback-service': { host: 'gateway', port: services.loopback.port },
      api: { host: 'gateway', port: services.api.port },
      'other-app': other.address,
      router: { host: 'gateway', port: services.router.port },
      outside: { host: outside.address, port: outside.port },
      'link-local': { host: linkLocal.address, port: linkLocal.port },
    };
    return { other, targets };
  }

  /** What every kind of container must see. */
  function assertReach(found: Record<string, string>, context: string) {
    const why = `${context}: ${JSON.stringify(found)}`;
    assert.match(found['own-loopback'] ?? '', /^blocked ECONNREFUSED$/, why);
    assert.match(found['host-loopback-service'] ?? '', /^blocked /, why);
    assert.match(found.api ?? '', /^blocked /, why);
    assert.match(found['other-app'] ?? '', /^blocked /, why);
    assert.match(found['link-local'] ?? '', /^blocked /, why);
    assert.equal(found.router, 'ok 200 router', why);
    assert.equal(found.outside, `ok 200 outside saw ${outside.hostAddress}`, why);
  }

  test(
    'a web container is reached at its bridge address, listening on 0.0.0.0 or 127.0.0.1 alike',
    TIMEOUT,
    async () => {
      for (const listen of ['0.0.0.0', '127.0.0.1']) {
        const log = lineLog();
        const script = `require('http').createServer((q, s) => s.end('at ' + ${JSON.stringify(listen)})).listen(process.env.PORT, ${JSON.stringify(listen)}, () => console.log('up'))`;
        const web = await driver.start(
          spec(`node -e ${JSON.stringify(script)}`, { name: 'web-1', exposePort: true, onLine: log.onLine }),
        );
        assert.ok(web.address);
        assert.ok(contains(subnet, ipToInt(web.address.host)), `${web.address.host} is not in the home's subnet`);
        await log.waitFor(([, line]) => line === 'up', 10_000);
        assert.deepEqual(await httpGet(web.address.host, web.address.port), { status: 200, body: `at ${listen}` });
        await noteNetns();
        await web.stop(0);
      }
    },
  );

  test(
    'a one-off container reaches the router’s port and the outside (NAT), not the host’s other ports, another app or link-local',
    TIMEOUT,
    async () => {
      const { other, targets } = await targetsWithOther();
      // The host itself reaches every one of them: what the container misses is its network's doing.
      assert.equal((await httpGet('127.0.0.1', services.loopback.port)).body, 'loopback');
      assert.equal((await httpGet(gateway, services.api.port)).body, 'api');
      assert.equal((await httpGet(linkLocal.address, linkLocal.port)).status, 200);
      assert.equal((await httpGet(outside.address, outside.port)).body, `outside saw ${outside.hostAddress}`);
      const before = { loopback: services.loopback.hits.length, api: services.api.hits.length };
      const log = lineLog();
      const probe = await driver.start(
        spec('node probe-net.js run', {
          env: { APP: 'alpha', NET_TARGETS: JSON.stringify(targets) },
          onLine: log.onLine,
        }),
      );
      await noteNetns();
      assert.deepEqual(await probe.exited, { code: 0, signal: null }, JSON.stringify(log.lines));
      assertReach(
        results(
          log.lines.map(([, line]) => line),
          'run',
        ),
        'one-off',
      );
      assert.deepEqual(
        { loopback: services.loopback.hits.length, api: services.api.hits.length },
        before,
        'a host service saw a container’s request',
      );
      await other.stop(0);
    },
  );

  test('a prepared container (the postdeploy hook’s way) and a build step get the same network', TIMEOUT, async () => {
    const { other, targets } = await targetsWithOther();
    const hookLog = lineLog();
    const prepared = await driver.prepare(
      spec('node probe-net.js hook', {
        name: 'postdeploy-1',
        env: { APP: 'alpha', NET_TARGETS: JSON.stringify(targets) },
        onLine: hookLog.onLine,
      }),
    );
    await noteNetns();
    const hook = await prepared.start();
    assert.deepEqual(await hook.exited, { code: 0, signal: null }, JSON.stringify(hookLog.lines));
    assertReach(
      results(
        hookLog.lines.map(([, line]) => line),
        'hook',
      ),
      'hook',
    );

    const buildDir = path.join(home, 'build');
    const cacheDir = path.join(home, 'cache');
    cpSync(slugDir, buildDir, { recursive: true });
    cpSync(slugDir, cacheDir, { recursive: true });
    const buildLines: string[] = [];
    const result = await runSandboxed(sandbox, ['node', 'probe-net.js', 'build'], {
      cwd: buildDir,
      ...USER,
      limits: BUILD_LIMITS,
      buildDir,
      cacheDir,
      env: { PATH: appSearchPath(buildDir), HOME: cacheDir, NET_TARGETS: JSON.stringify(targets) },
      onLine: (_stream, line) => buildLines.push(line),
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, buildLines.join('\n'));
    assertReach(results(buildLines, 'build'), 'build step');
    await other.stop(0);
  });

  test(
    'a namespace serves the next container only once the last is gone, with nothing of it left',
    TIMEOUT,
    async () => {
      // A web container leaves a process listening in the background; once it is stopped, its namespace
      // (and address) goes to a later container, where nothing listens on the old port any more.
      const log = lineLog();
      const first = await driver.start(
        spec('node server.js & echo started; wait', { name: 'web-1', exposePort: true, onLine: log.onLine }),
      );
      assert.ok(first.address);
      const { host, port } = first.address;
      assert.equal(await waitForPort(host, port, { timeoutMs: 10_000 }), true);
      await noteNetns();
      await first.stop(0);
      let reused = false;
      for (let i = 0; i < 12 && !reused; i++) {
        const next = await driver.start(
          spec('sleep 600', { name: 'web-2', exposePort: true, env: { APP: 'gamma' }, onLine: () => {} }),
        );
        reused = next.address?.host === host;
        if (reused) assert.equal(await waitForPort(host, port, { timeoutMs: 300 }), false, 'the old listener survived');
        await next.stop(0);
      }
      assert.ok(reused, `no later container got ${host}`);
    },
  );

  test('once closed, no namespace, veth, nftables table or bridge of the home is left', TIMEOUT, async () => {
    const names = namesOfKey(homeKey(home));
    await noteNetns();
    assert.ok(seenNetns.size > 0, 'no namespace was seen');
    assert.equal((await leftOf(names)).bridge, true);
    await driver.close(0);
    await sandbox.close();
    assert.deepEqual(await leftOf(names, [...seenNetns]), NOTHING_LEFT);
  });
});

describe('container network of a real server', { skip }, () => {
  let slipway: Slipway;
  let outside: OutsideHost;
  let names: NetworkNames;

  before(async () => {
    outside = await startOutsideHost('outside');
    // The API on every address, as an operator might run it: still out of the containers' reach.
    slipway = await startSlipway({ args: ['--host', '0.0.0.0'] });
    names = namesOfKey(homeKey(slipway.home));
  });
  after(async () => {
    await slipway?.stop();
    await outside?.close();
  });

  test(
    'apps serve through the router; their build, hook and one-off run reach the router and the outside, not the API or another app',
    TIMEOUT,
    async () => {
      assert.equal((await slipway.cli(['apps:create', 'beta'])).code, 0);
      const beta = fixtureCopy('net-probe', {
        Procfile: 'web: node server.js\n',
        'package.json': '{ "name": "beta", "private": true }\n',
      });
      const deployed = await slipway.cli(['deploy', beta, '-a', 'beta']);
      assert.equal(deployed.code, 0, deployed.stderr + deployed.stdout);
      const served = await routerGet(slipway.routerPort, 'beta.localhost');
      assert.equal(served.status, 200);
      const web = JSON.parse(served.body) as { address: string; port: number };
      assert.ok(existsSync(`/sys/class/net/${names.bridge}`));
      // The /20 the address is in, and its first address, the bridge's.
      const gateway = intToIp(gatewayOf({ network: (ipToInt(web.address) & 0xfffff000) >>> 0, prefix: 20 }));
      const apiPort = Number(new URL(slipway.apiUrl).port);
      // From the host, the API answers on the bridge's address too (it listens on 0.0.0.0).
      assert.equal((await httpGet(gateway, apiPort)).status !== 0, true);

      const targets: Record<string, Target> = {
        api: { host: 'gateway', port: apiPort },
        'other-app': { host: web.address, port: web.port },
        router: { host: 'gateway', port: slipway.routerPort, hostHeader: 'beta.localhost' },
        outside: { host: outside.address, port: outside.port },
      };
      assert.equal((await slipway.cli(['apps:create', 'alpha'])).code, 0);
      const alpha = fixtureCopy('net-probe', { 'targets.json': JSON.stringify(targets) });
      const result = await slipway.cli(['deploy', alpha, '-a', 'alpha']);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const run = await slipway.cli(['run', '-a', 'alpha', '--', 'node', 'probe-net.js', 'run']);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      const lines = [...`${result.stdout}\n${result.stderr}`.split('\n'), ...run.stdout.split('\n')];
      for (const phase of ['build', 'hook', 'run']) {
        const found = results(lines, phase);
        const why = `${phase}: ${JSON.stringify(found)}\n${lines.join('\n')}`;
        assert.match(found.api ?? '', /^blocked /, why);
        assert.match(found['other-app'] ?? '', /^blocked /, why);
        assert.match(found.router ?? '', new RegExp(`^ok 200 .*"address":"${web.address}"`), why);
        assert.equal(found.outside, `ok 200 outside saw ${outside.hostAddress}`, why);
      }
      assert.equal((await routerGet(slipway.routerPort, 'alpha.localhost')).status, 200);
    },
  );

  test('a start after a crash removes what the dead run left; a stopped server leaves nothing', TIMEOUT, async () => {
    // Let the namespace pool settle (its `ip` processes would outlive a SIGKILL mid-batch).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await slipway.kill();
    const dead = await leftOf(names);
    assert.equal(dead.bridge, true, 'a crash leaves the bridge');
    assert.ok(dead.netns.length > 0, 'a crash leaves namespaces');
    const { home } = slipway;
    slipway = await startSlipway({ home, args: ['--host', '0.0.0.0'] });
    const restarted = await leftOf(names);
    assert.deepEqual(
      restarted.netns.filter((name) => dead.netns.includes(name)),
      [],
      'a namespace of the dead run is left',
    );
    assert.equal((await routerGet(slipway.routerPort, 'beta.localhost')).status, 200);
    await slipway.stop({ keepHome: true });
    assert.deepEqual(await leftOf(names, [...dead.netns, ...restarted.netns]), NOTHING_LEFT);
    rmSync(home, { recursive: true, force: true });
  });

  test('the network of a home that no longer exists is removed by the next start of any home', TIMEOUT, async () => {
    const gone = await startSlipway();
    const goneNames = namesOfKey(homeKey(gone.home));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await gone.kill();
    assert.equal((await leftOf(goneNames)).bridge, true);
    rmSync(gone.home, { recursive: true, force: true });
    const home = mkdtempSync(path.join(tmpdir(), 'slipway-net-home-'));
    try {
      const opened = await openSandbox({ scratchDir: path.join(home, 'probe'), home });
      if (!('sandbox' in opened)) throw new Error(opened.missing);
      assert.ok(opened.network.collected.includes(gone.home), JSON.stringify(opened.network));
      assert.deepEqual(await leftOf(goneNames), NOTHING_LEFT);
      await opened.sandbox.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
