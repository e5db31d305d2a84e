// `slipway logs` end to end through the real CLI, API, router and app: lines
// from every container tagged with its name, the router's access lines, the
// filters, live following; and `deployments:logs -f` joining a running
// deployment (replay, then follow to the end).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type ProcessHandle, spawnProcess } from '../../src/exec/index.ts';
import { startThirdParty } from '../helpers/outside-host.ts';
import { BIN, baseEnv, fixtureCopy, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'logdemo';
const HOST = `${APP}.localhost`;

interface Seen {
  readonly text: string;
  readonly at: number;
}

interface LiveCli {
  readonly stdout: Seen[];
  readonly handle: ProcessHandle;
  exitCode: number | null | undefined;
}

/** The real CLI as a long-running subprocess (for -f), with each stdout line's arrival time. */
function spawnCli(slipway: Slipway, args: string[]): LiveCli {
  const stdout: Seen[] = [];
  const handle = spawnProcess([BIN, ...args], {
    cwd: slipway.home,
    env: baseEnv({ SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, HOME: slipway.home }),
    onLine: (stream, text) => {
      if (stream === 'stdout') stdout.push({ text, at: Date.now() });
    },
  });
  const live: LiveCli = { stdout, handle, exitCode: undefined };
  handle.exited.then((exit) => {
    live.exitCode = exit.code;
  });
  return live;
}

/** A GET through the router that also returns the X-Request-Id it was given. */
function get(port: number, urlPath: string, host = HOST): Promise<{ status: number; requestId: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id']) }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('router request timed out')));
  });
}

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+): (.*)$/;

describe('slipway logs', () => {
  let slipway: Slipway;
  const followers: LiveCli[] = [];

  before(async () => {
    slipway = await startSlipway();
    const deployed = await slipway.cli(['deploy', fixtureCopy('logs-app'), '-a', APP, '--create']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
  });
  after(async () => {
    for (const f of followers) await f.handle.stop(2_000);
    await slipway?.stop();
  });

  test('logs -f shows a line the app prints after the client connected, within a second, tagged web-1', async (t) => {
    const follower = spawnCli(slipway, ['logs', '-a', APP, '-f']);
    followers.push(follower);
    // History first: once the web container's start-up line is printed, the stream is live.
    await waitFor(
      () => follower.stdout.some((s) => / web-1: web listening on \d+$/.test(s.text)),
      'the history in logs -f',
      15_000,
    );
    const marker = `/after-connect-${process.hrtime.bigint()}`;
    const sentAt = Date.now();
    const res = await get(slipway.routerPort, marker);
    assert.equal(res.status, 200);
    const appLine = () => follower.stdout.find((s) => s.text.endsWith(` web-1: got GET ${marker}`));
    await waitFor(() => appLine() !== undefined, 'the app line in logs -f', 5_000);
    const arrivedMs = (appLine()?.at ?? Infinity) - sentAt;
    t.diagnostic(`logs -f latency: ${arrivedMs} ms from request to printed line`);
    assert.ok(arrivedMs < 1_000, `the line took ${arrivedMs} ms to reach logs -f`);
    assert.match(appLine()?.text ?? '', LINE);

    // The router's access line for the same request, with the id the client got back.
    const routerLine = () => follower.stdout.find((s) => s.text.includes(` router: method=GET path=${marker} `));
    await waitFor(() => routerLine() !== undefined, 'the router line in logs -f', 5_000);
    assert.match(
      routerLine()?.text ?? '',
      new RegExp(`router: method=GET path=${marker} status=200 duration=\\d+ms request_id=${res.requestId}$`),
    );
    assert.equal(follower.exitCode, undefined, 'logs -f keeps running');
  });

  test('router access lines carry method, path, status, duration and request id', async () => {
    const missing = await get(slipway.routerPort, '/missing?q=1');
    assert.equal(missing.status, 404);
    await waitFor(
      async () => (await slipway.cli(['logs', '-a', APP, '--type', 'router'])).stdout.includes(missing.requestId),
      'the router line of /missing',
      5_000,
    );
    const { stdout, code } = await slipway.cli(['logs', '-a', APP, '--type', 'router']);
    assert.equal(code, 0);
    const line = stdout.split('\n').find((l) => l.includes(missing.requestId)) ?? '';
    const [, time, source, text] = LINE.exec(line) ?? [];
    assert.ok(Math.abs(Date.parse(time ?? '') - Date.now()) < 60_000, `timestamp ${time}`);
    assert.equal(source, 'router');
    assert.match(text ?? '', /^method=GET path=\/missing\?q=1 status=404 duration=\d+ms request_id=[\w-]+$/);
  });

  test('--type filters by process type, --lines limits history, --json prints JSON lines', async () => {
    for (const n of [1, 2, 3, 4]) assert.equal((await get(slipway.routerPort, `/n${n}`)).status, 200);
    await waitFor(
      async () => (await slipway.cli(['logs', '-a', APP, '--lines', '1'])).stdout.includes('path=/n4 '),
      'the last request logged',
      5_000,
    );

    const all = await slipway.cli(['logs', '-a', APP]);
    assert.equal(all.code, 0, all.stderr);
    const sources = new Set(all.stdout.split('\n').map((l) => LINE.exec(l)?.[2]));
    assert.deepEqual([...sources].sort(), ['router', 'web-1', 'worker-1']);

    const web = await slipway.cli(['logs', '-a', APP, '--type', 'web', '--lines', '2', '--json']);
    assert.equal(web.code, 0, web.stderr);
    const entries = web.stdout.split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      entries.map((e) => [e.source, e.line]),
      [
        ['web-1', 'got GET /n3'],
        ['web-1', 'got GET /n4'],
      ],
    );
    assert.ok(entries.every((e) => !Number.isNaN(Date.parse(e.time))));

    const router = await slipway.cli(['logs', '-a', APP, '--type', 'router', '--lines', '3']);
    const routerLines = router.stdout.split('\n');
    assert.equal(routerLines.length, 3);
    assert.ok(
      routerLines.every((l) => LINE.exec(l)?.[2] === 'router'),
      router.stdout,
    );
    assert.match(routerLines[2] ?? '', /path=\/n4 status=200/);

    // The API's plain-text form, for curl.
    const plain = await slipway.api('GET', `/api/apps/${APP}/logs?lines=2&type=web`);
    assert.equal(plain.status, 200);
    assert.deepEqual(
      String(plain.json)
        .trimEnd()
        .split('\n')
        .map((l) => LINE.exec(l)?.slice(2)),
      [
        ['web-1', 'got GET /n3'],
        ['web-1', 'got GET /n4'],
      ],
    );

    const worker = await slipway.cli(['logs', '-a', APP, '--type', 'worker']);
    assert.match(worker.stdout, /^\S+ worker-1: worker worker-1 started$/m);
    assert.doesNotMatch(worker.stdout, /web-1|router/);
  });

  test('bad input is refused with a clear message', async () => {
    const lines = await slipway.cli(['logs', '-a', APP, '--lines', 'many']);
    assert.notEqual(lines.code, 0);
    assert.match(lines.stderr, /--lines takes a whole number/);
    const big = await slipway.cli(['logs', '-a', APP, '--lines', '99999']);
    assert.notEqual(big.code, 0);
    assert.match(big.stderr, /lines must be a whole number from 0 to 10000/);
    const unknown = await slipway.cli(['logs', '-a', 'no-such-app']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no-such-app/);
  });

  test('logs -f ends when the app is destroyed', async () => {
    assert.equal((await slipway.cli(['apps:create', 'shortlived'])).code, 0);
    const follower = spawnCli(slipway, ['logs', '-a', 'shortlived', '-f', '--lines', '0']);
    followers.push(follower);
    // Nothing is deployed, so the router answers 503, and logs that: once such a line shows up,
    // the follower is connected.
    await waitFor(
      async () => {
        const res = await get(slipway.routerPort, '/ping', 'shortlived.localhost');
        assert.equal(res.status, 503);
        return follower.stdout.some((s) => s.text.includes('router: method=GET path=/ping status=503'));
      },
      'logs -f to show the router line',
      15_000,
      200,
    );
    assert.equal((await slipway.cli(['apps:destroy', '--confirm', 'shortlived'])).code, 0);
    await waitFor(() => follower.exitCode !== undefined, 'logs -f to end', 10_000, 50);
    assert.equal(follower.exitCode, 0);
  });

  test('deployments:logs -f replays a running deployment, then follows it to the end', async () => {
    // The gate is a third party's /gate the hook polls (containers reach the outside, not the
    // host nor its files): the hook goes on once the test opens it.
    const party = await startThirdParty();
    after(() => party.close());
    const gateUrl = `http://${party.address}:${party.port}`;
    const poll = `const go=()=>fetch('${gateUrl}/gate').then((r)=>r.ok?process.exit(0):setTimeout(go,100),()=>setTimeout(go,100));go()`;
    const hook = `echo "hook waiting"; node -e "${poll}"; echo "hook done"`;
    const dir = fixtureCopy('logs-app', {
      Procfile: `web: node server.js\nworker: node worker.js\npostdeploy: ${hook}\n`,
    });
    const deploy = spawnCli(slipway, ['deploy', dir, '-a', APP]);
    followers.push(deploy);

    let id = '';
    await waitFor(
      async () => {
        const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
        id = json[0]?.status === 'starting' ? json[0].id : '';
        return (
          id !== '' &&
          String((await slipway.api('GET', `/api/apps/${APP}/deployments/${id}/logs`)).json).match(
            /^\s*hook waiting$/m,
          ) !== null
        );
      },
      'the deployment to reach its hook',
      60_000,
      100,
    );

    const follower = spawnCli(slipway, ['deployments:logs', id, '-a', APP, '-f']);
    followers.push(follower);
    const printed = () => follower.stdout.map((s) => s.text).join('\n');
    await waitFor(() => /^\s*hook waiting$/m.test(printed()), 'the replayed log', 15_000);
    // Replayed: lines written long before the follower connected.
    assert.match(printed(), /^-----> Building/m);
    assert.doesNotMatch(printed(), /^\s*hook done$/m);
    assert.equal(follower.exitCode, undefined, 'still following a running deployment');

    assert.equal((await fetch(`${gateUrl}/open`, { method: 'POST' })).status, 200);
    await waitFor(() => follower.exitCode !== undefined, 'the follower to end with the deployment', 30_000, 50);
    assert.equal(follower.exitCode, 0);
    const text = printed();
    assert.match(text, /^\s*hook waiting\n\s*hook done$/m);
    assert.match(text, /^-----> Switching traffic/m);
    assert.equal(text.match(/^\s*hook waiting$/gm)?.length, 1, 'no line is repeated');

    await waitFor(() => deploy.exitCode !== undefined, 'the deploy command to end', 30_000, 50);
    assert.equal(deploy.exitCode, 0);
  });
});
