// What the sandbox promises, seen through a real server and real deploys:
// containers run as their app's own user in their own namespaces, cannot
// reach another app or Slipway's data, and a postdeploy hook's changes never
// touch the running web container. Skipped (with the reason) where the host
// cannot run the sandbox; CI installs bubblewrap so it always runs there.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HELPER_ENV, runProcess } from '../../src/exec/index.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';
import { sandboxSkipReason } from '../helpers/test-sandbox.ts';

const skip = await sandboxSkipReason();

interface HostProcess {
  pid: number;
  uid: number;
  comm: string;
}

/** Host processes running for `app` (its containers get APP=<app>), as root sees them. */
function appProcesses(app: string, comm: string): HostProcess[] {
  const found: HostProcess[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim() !== comm) continue;
      if (!fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`APP=${app}`)) continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
      found.push({ pid: Number(name), uid, comm });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The id of the container a host process runs in: the name of its cgroup (slipway/<home>/<id>). */
function containerIdOf(pid: number): string | undefined {
  const cgroups = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  return /:memory:\/.*\/([^/\n]+)$/m.exec(cgroups)?.[1];
}

/** The names in the root of a layer image's `upper/` (its container's /app changes), read by debugfs. */
async function layerUpperEntries(image: string): Promise<string[]> {
  const lines: string[] = [];
  await runProcess(['debugfs', '-R', 'ls -p /upper', image], {
    env: HELPER_ENV,
    onLine: (stream, line) => stream === 'stdout' && lines.push(line),
    timeoutMs: 10_000,
  });
  // -p: /inode/mode/uid/gid/name/size/
  return lines.map((line) => line.split('/')[5] ?? '').filter((name) => name !== '' && name !== '.' && name !== '..');
}

/** Runs argv on the host as `uid` (no groups): what that app's user could do even with the path in reach. */
async function asUser(uid: number, argv: string[]): Promise<{ code: number | null; output: string }> {
  const lines: string[] = [];
  const result = await runProcess(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...argv], {
    env: HELPER_ENV,
    onLine: (_s, line) => lines.push(line),
    timeoutMs: 10_000,
  });
  return { code: result.code, output: lines.join('\n') };
}

describe('sandbox isolation', { skip }, () => {
  let slipway: Slipway;
  const get = async (app: string, urlPath: string) =>
    JSON.parse((await routerGet(slipway.routerPort, `${app}.localhost`, urlPath)).body);

  before(async () => {
    slipway = await startSlipway();
  });
  after(async () => {
    await slipway?.stop();
  });

  async function deploy(app: string, files: Record<string, string> = {}) {
    assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    const result = await slipway.cli(['deploy', fixtureCopy('sandbox-probe', files), '-a', app]);
    return result;
  }

  test('a container runs as its app’s user without privileges, with /usr read-only, its app at /app and only its own processes', async () => {
    const result = await deploy('alpha');
    assert.equal(result.code, 0, result.stderr);
    const facts = await get('alpha', '/facts');
    assert.notEqual(facts.uid, 0);
    assert.ok(facts.uid >= 20001, `uid ${facts.uid} is not a per-app uid`);
    assert.equal(facts.gid, facts.uid);
    assert.equal(facts.cwd, '/app');
    assert.equal(facts.usrWritable, false);
    assert.deepEqual(facts.usrWrite, { ok: false, code: 'EROFS' });
    assert.ok(facts.appFiles.includes('server.js'), JSON.stringify(facts.appFiles));
    const none = '0000000000000000';
    assert.deepEqual(
      facts.privileges,
      { Groups: '', CapInh: none, CapPrm: none, CapEff: none, CapBnd: none, CapAmb: none, NoNewPrivs: '1' },
      'no supplementary groups, no capabilities in any set, no_new_privs',
    );
    // bwrap's reaper (pid 1), the Procfile's sh and its node: not Slipway's server, not another container.
    assert.deepEqual(facts.processes.sort(), ['bwrap', 'node', 'sh'], JSON.stringify(facts.processes));
    const [hostNode] = appProcesses('alpha', 'node');
    assert.equal(hostNode?.uid, facts.uid, 'the host sees the container’s node running as the app’s uid');
  });

  test('app A cannot read app B’s slug or writable layer, nor the database, nor signal B’s processes', async () => {
    assert.equal((await deploy('bravo')).code, 0);
    const home = slipway.home;
    const [slugId] = fs.readdirSync(path.join(home, 'slugs', 'bravo'));
    assert.ok(slugId);
    const bravoSlugFile = path.join(home, 'slugs', 'bravo', slugId, 'server.js');
    const [bravo] = appProcesses('bravo', 'node');
    const [alpha] = appProcesses('alpha', 'node');
    assert.ok(bravo && alpha);
    assert.notEqual(alpha.uid, bravo.uid, 'two apps share a uid');
    // Its own file system, in an image only root can read (the home is root's, 0700).
    const bravoLayer = path.join(home, 'containers', containerIdOf(bravo.pid) ?? 'unknown', 'layer.img');
    assert.ok(fs.existsSync(bravoLayer), 'bravo’s writable layer was not found');
    const database = path.join(home, 'slipway.db');

    // From inside alpha's container, none of it is even there.
    for (const file of [bravoSlugFile, bravoLayer, database]) {
      assert.deepEqual(await get('alpha', `/read?path=${encodeURIComponent(file)}`), { ok: false, code: 'ENOENT' });
    }
    assert.deepEqual(await get('alpha', `/signal?pid=${bravo.pid}`), { ok: false, code: 'ESRCH' });

    // And alpha's user on the host, were those paths in reach: permission denied.
    for (const file of [bravoSlugFile, path.join(bravoLayer, '.'), database]) {
      const attempt = await asUser(alpha.uid, ['cat', file]);
      assert.notEqual(attempt.code, 0);
      assert.match(attempt.output, /Permission denied/);
    }
    const signal = await asUser(alpha.uid, ['kill', '-0', String(bravo.pid)]);
    assert.notEqual(signal.code, 0);
    assert.match(signal.output, /Operation not permitted/);
  });

  test('the hook deletes /app/server.js and writes /app/x; the web container sees neither, and the layer goes', async () => {
    const result = await deploy('charlie', {
      Procfile:
        'web: node server.js\npostdeploy: rm /app/server.js && echo hello > /app/x && echo hook sees: $(ls /app)\n',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /hook sees: Procfile x$/m);
    assert.equal(await get('charlie', `/exists?path=${encodeURIComponent('/app/server.js')}`), true);
    assert.equal(await get('charlie', `/exists?path=${encodeURIComponent('/app/x')}`), false);
    // Only live web containers keep a layer; nothing anywhere holds the hook's /app/x.
    const layers = fs.readdirSync(path.join(slipway.home, 'containers')).filter((name) => !name.startsWith('.'));
    const webs = ['alpha', 'bravo', 'charlie'].flatMap((app) => appProcesses(app, 'node'));
    assert.equal(layers.length, webs.length, `layers ${layers.join(', ')} for ${webs.length} web containers`);
    for (const id of layers) {
      const entries = await layerUpperEntries(path.join(slipway.home, 'containers', id, 'layer.img'));
      assert.equal(entries.includes('x'), false, `${id}: ${entries.join(', ')}`);
    }
  });

  test('a hook that allocates past its size is reported as out of memory', async () => {
    assert.equal((await slipway.cli(['apps:create', 'delta'])).code, 0);
    const sized = await slipway.cli(['apps:update', '--hook-size', 'S', '-a', 'delta']);
    assert.equal(sized.code, 0, sized.stderr);
    assert.match(sized.stdout, /hook size set to S/);
    const bad = await slipway.cli(['apps:update', '--size', 'XXL', '-a', 'delta']);
    assert.equal(bad.code, 6);
    assert.match(bad.stderr, /unknown container size "XXL": use one of S, M, L, XL, 2XL/);
    const { json: shown } = await slipway.api('PATCH', '/api/apps/delta', { size: 'l' });
    assert.deepEqual([shown.size, shown.hook_size], ['L', 'S']);
    const { status } = await slipway.api('PATCH', '/api/apps/delta', { hook_size: 'huge' });
    assert.equal(status, 400);
    const hog = "node -e 'const a = []; for (;;) a.push(Buffer.alloc(16 << 20, 1))'";
    const result = await slipway.cli([
      'deploy',
      fixtureCopy('sandbox-probe', {
        Procfile: `web: node server.js\npostdeploy: echo "memory $CONTAINER_MEMORY" && ${hog}\n`,
      }),
      '-a',
      'delta',
    ]);
    assert.equal(result.code, 7, result.stdout);
    assert.match(result.stdout, /memory 268435456$/m);
    const { json: list } = await slipway.api('GET', '/api/apps/delta/deployments');
    assert.equal(list[0].status, 'hook-error');
    assert.match(list[0].error.message, /out of memory/);
  });
});
