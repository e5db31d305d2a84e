// What only the docker driver shows (docs/docker.md): its network keeps
// containers from each other and from the host's ports but the ones allowed
// (the router's), and the kernel's OOM kill at the size's memory limit is
// reported as such. A real dockerd and the stack image; skipped, saying why, without.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { limitsOf } from '../../src/core/container-size.ts';
import { openDockerNetwork } from '../../src/runtime/docker/index.ts';
import { homeKey } from '../../src/runtime/sandbox/network-plan.ts';
import type { ContainerSpec, RuntimeDriver } from '../../src/runtime/types.ts';
import { lineLog, writeSlug } from '../helpers/runtime-helpers.ts';
import { openTestDocker } from '../helpers/test-docker.ts';

const docker = await openTestDocker();
const APP_USER = { uid: 64_124, gid: 64_124 } as const;
let sequence = 0;

/** Node in the container: connects to host:port, prints open, refused (RST), unreachable (ICMP) or timeout. */
const probe = (host: string, port: number) =>
  `node -e "const s=require('net').connect(${port},'${host}');s.setTimeout(1500);` +
  `s.on('connect',()=>{console.log('open');s.destroy()});s.on('timeout',()=>{console.log('timeout');s.destroy()});` +
  `s.on('error',e=>console.log(e.code==='ECONNREFUSED'||e.code==='ECONNRESET'?'refused':e.code==='EHOSTUNREACH'?'unreachable':e.code))"`;

describe('docker driver specifics', { skip: 'missing' in docker ? docker.missing : false }, () => {
  let root: string;
  let slugDir: string;
  let driver: RuntimeDriver;
  let hostServer: http.Server;
  let gateway: string;

  const spec = (command: string, extra: Partial<ContainerSpec> = {}) => {
    const log = lineLog();
    return {
      log,
      spec: {
        id: `d${process.pid}-${++sequence}`,
        app: 'demo',
        name: 'web-1',
        slugDir,
        command,
        env: { LISTEN_HOST: '0.0.0.0' },
        exposePort: false,
        user: APP_USER,
        onLine: log.onLine,
        ...extra,
      } satisfies ContainerSpec,
    };
  };
  const probeFrom = async (host: string, port: number) => {
    const { spec: s, log } = spec(probe(host, port), { name: 'one-off-1' });
    const handle = await driver.start(s);
    await handle.exited;
    return log.lines.map(([, line]) => line).join('\n');
  };

  before(async () => {
    if ('missing' in docker) return;
    root = await mkdtemp(path.join(tmpdir(), 'slipway-docker-'));
    slugDir = path.join(root, 'slug');
    await writeSlug(slugDir, APP_USER);
    driver = docker.newDriver(path.join(root, 'containers'));
    // A service of the host on every address: the API, a database, SSH... as far as containers know.
    hostServer = http.createServer((_req, res) => res.end('host'));
    await new Promise<void>((resolve) => hostServer.listen(0, '0.0.0.0', resolve));
    const inspected = await docker.engine.request<{ IPAM: { Config: { Gateway: string }[] } }>(
      'GET',
      `/networks/${docker.network.name}`,
    );
    gateway = inspected.IPAM.Config[0]?.Gateway ?? '';
  });
  after(async () => {
    await driver?.close(0);
    hostServer?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a container reaches the host only on the allowed ports, and no other container', {
    timeout: 60_000,
  }, async () => {
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    const port = (hostServer.address() as AddressInfo).port;
    assert.equal(await probeFrom(gateway, port), 'refused', 'a port of the host that was not allowed');
    if ('missing' in docker) return;
    await docker.network.allowHostPorts([port]);
    assert.equal(await probeFrom(gateway, port), 'open', 'the allowed port (the router’s)');

    const { spec: webSpec } = spec('node server.js', { exposePort: true });
    const web = await driver.start(webSpec);
    assert.ok(web.address);
    assert.notEqual(web.address.host, '127.0.0.1', 'reached at its bridge address');
    const other = await probeFrom(web.address.host, web.address.port);
    assert.ok(other === 'timeout' || other === 'refused', `another container reached it: ${other}`);
    assert.equal(await probeFrom('169.254.169.254', 80), 'unreachable', 'link-local (cloud metadata)');
    await web.stop(0);
  });

  it('a later driver of the same home sweeps away what a crashed one left running', { timeout: 60_000 }, async () => {
    if ('missing' in docker) return;
    const containersDir = path.join(root, 'crashed');
    const crashed = docker.newDriver(containersDir); // never closed: its server was SIGKILLed
    const { spec: s, log } = spec('echo up; while :; do sleep 1; done');
    const left = await crashed.start(s);
    await log.waitFor(([, line]) => line === 'up');
    const next = docker.newDriver(containersDir);
    assert.equal(await next.sweep(), 1);
    assert.deepEqual(await left.exited, { code: null, signal: 'SIGKILL' });
    const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.id=${s.id}`] }));
    assert.deepEqual(await docker.engine.request('GET', `/containers/json?all=1&filters=${filters}`), []);
    assert.deepEqual(await readdir(containersDir), []);
    assert.equal(await next.sweep(), 0);
  });

  it('the network of a deleted home is removed when another home opens its own', { timeout: 60_000 }, async () => {
    if ('missing' in docker) return;
    const names = async () => (await docker.engine.request<{ Name: string }[]>('GET', '/networks')).map((n) => n.Name);
    const gone = await mkdtemp(path.join(tmpdir(), 'slipway-docker-gone-'));
    const stale = await openDockerNetwork(docker.engine, homeKey(gone), gone);
    assert.ok((await names()).includes(stale.name));
    await rm(gone, { recursive: true });
    const kept = await mkdtemp(path.join(tmpdir(), 'slipway-docker-kept-'));
    const live = await openDockerNetwork(docker.engine, homeKey(kept), kept);
    try {
      const now = await names();
      assert.ok(!now.includes(stale.name), 'the deleted home’s network is still there');
      assert.ok(now.includes(live.name) && now.includes(docker.network.name));
    } finally {
      await live.remove();
      await rm(kept, { recursive: true, force: true });
    }
  });

  it('a container that outgrows its memory is reported killed for it', { timeout: 60_000 }, async () => {
    const { spec: s } = spec('node -e "const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))"', {
      limits: { ...limitsOf('S'), memoryBytes: 64 * 1024 * 1024 },
    });
    const handle = await driver.start(s);
    assert.deepEqual(await handle.exited, { code: null, signal: 'SIGKILL', outOfMemory: true });
  });
});
