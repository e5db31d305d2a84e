// `slipway run`: one-off containers of the current release, through the real
// CLI and API: the app's environment plus CONTAINER=one-off-<n>, the command's
// exit code, isolation from the web containers, detached runs in the app log,
// and no orphan when the client goes away.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { runProcess, spawnProcess } from '../../src/exec/index.ts';
import { processesWith } from '../helpers/runtime-helpers.ts';
import {
  BIN,
  baseEnv,
  fixtureCopy,
  routerGet,
  type Slipway,
  startSlipway,
  TEST_RUNTIME,
  TOKEN,
} from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'runner';
const HOST = `${APP}.localhost`;

/** Swarm cannot attach a terminal or stdin to a task (docs/scale-out.md): it refuses interactive runs. */
const noTerminal = TEST_RUNTIME === 'swarm' && 'a swarm task has no terminal nor stdin: interactive runs are refused';

describe('slipway run', () => {
  let slipway: Slipway;

  before(async () => {
    slipway = await startSlipway();
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    const deployed = await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', APP]);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    const set = await slipway.cli(['env:set', 'GREETING=hello there', '-a', APP]);
    assert.equal(set.code, 0, set.stderr);
  });
  after(async () => {
    await slipway?.stop();
  });

  test('prints the app and container name and exits with the command’s exit code', async () => {
    const result = await slipway.cli(['run', '-a', APP, '--', 'sh', '-c', 'echo $APP $CONTAINER $DYNO; exit 3']);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, `${APP} one-off-1 run.1`);
  });

  test('sees the config vars; --env adds a variable for that run only', async () => {
    const withEnv = await slipway.cli([
      'run',
      '-a',
      APP,
      '--env',
      'EXTRA=one two',
      '--env',
      'GREETING=overridden',
      '--',
      'echo "$GREETING|$EXTRA"; echo oops >&2',
    ]);
    assert.equal(withEnv.code, 0, withEnv.stderr);
    assert.equal(withEnv.stdout, 'overridden|one two');
    assert.equal(withEnv.stderr, 'oops', 'the command’s stderr goes to the CLI’s stderr');

    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, for the container's sh
    const plain = await slipway.cli(['run', '-a', APP, '--', 'echo "$GREETING|${EXTRA-unset}"']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'hello there|unset');
    const { json: config } = await slipway.api('GET', `/api/apps/${APP}/env`);
    assert.equal(config.EXTRA, undefined, 'a run’s variables never become config vars');

    const bad = await slipway.cli(['run', '-a', APP, '--env', '1BAD=x', '--', 'true']);
    assert.equal(bad.code, 6);
    assert.match(bad.stderr, /invalid config var name "1BAD"/);
  });

  test('files a run writes never reach the web container nor a later run', async () => {
    const wrote = await slipway.cli(['run', '-a', APP, '--', 'echo data > scratch.txt && ls scratch.txt']);
    assert.equal(wrote.code, 0, wrote.stderr);
    assert.equal(wrote.stdout, 'scratch.txt', 'the run itself sees the file it wrote');
    const web = await routerGet(slipway.routerPort, HOST, '/exists?file=scratch.txt');
    assert.equal(web.body, 'no\n');
    assert.equal((await routerGet(slipway.routerPort, HOST, '/exists?file=server.js')).body, 'yes\n');
    const later = await slipway.cli(['run', '-a', APP, '--', 'test -e scratch.txt && echo seen || echo absent']);
    assert.equal(later.stdout, 'absent');
  });

  test('words after -- reach the container as written, quotes and all', async () => {
    const result = await slipway.cli(['run', '-a', APP, '--', 'printf', '[%s]\\n', "it's", '$APP', 'a b']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "[it's]\n[$APP]\n[a b]");
  });

  test('a running one-off is listed with the app’s containers, and gone once it ends', async () => {
    const marker = `${500 + Math.floor(Math.random() * 1000) / 1000}`;
    const running = slipway.cli(['run', '-a', APP, '--', `echo started; sleep ${marker}; echo done`]);
    let listed: { name: string; type: string; state: string; release: string } | undefined;
    await waitFor(
      async () => {
        const { json } = await slipway.api('GET', `/api/apps/${APP}/containers`);
        listed = json.find((c: { type: string }) => c.type === 'one-off');
        return listed !== undefined;
      },
      'the one-off in the container list',
      10_000,
      50,
    );
    assert.deepEqual(
      { name: listed?.name, type: listed?.type, state: listed?.state, release: listed?.release },
      { name: 'one-off-1', type: 'one-off', state: 'up', release: 'v2' },
    );
    // A second run meanwhile takes the next free index.
    const second = await slipway.cli(['run', '-a', APP, '--', 'echo $CONTAINER']);
    assert.equal(second.stdout, 'one-off-2');
    for (const pid of await processesWith(marker)) process.kill(pid, 'SIGTERM');
    const first = await running;
    assert.match(first.stdout, /^started/);
    const { json: after } = await slipway.api('GET', `/api/apps/${APP}/containers`);
    assert.deepEqual(
      after.map((c: { name: string }) => c.name),
      ['web-1'],
    );
  });

  test('a client that goes away takes its run with it: no process is left', async () => {
    const marker = `${700 + Math.floor(Math.random() * 1000) / 1000}`;
    const client = spawnProcess([BIN, 'run', '-a', APP, '--', `sleep ${marker} & sleep ${marker}; echo never`], {
      env: baseEnv({ SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN }),
    });
    await waitFor(async () => (await processesWith(marker)).length === 2, 'the run’s two processes', 15_000, 50);
    await client.stop(0);
    await waitFor(async () => (await processesWith(marker)).length === 0, 'no process of the run left', 10_000, 50);
    await waitFor(
      async () => (await slipway.api('GET', `/api/apps/${APP}/containers`)).json.length === 1,
      'the one-off’s record removed',
      5_000,
      50,
    );
  });

  test('--detached returns at once; the output lands in the app log', async () => {
    const marker = `detached-${Date.now()}`;
    const started = Date.now();
    const result = await slipway.cli(['run', '-a', APP, '--detached', '--', `sleep 1; echo ${marker} $CONTAINER`]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - started < 5_000);
    assert.match(result.stdout, /as one-off-1 \(v2\), detached/);
    const log = path.join(slipway.home, 'logs', 'apps', APP, 'app.log');
    const read = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
    assert.doesNotMatch(read(), new RegExp(marker), 'the command was still sleeping when the CLI returned');
    await waitFor(() => /Process exited with code 0/.test(read()), 'the detached run to end', 10_000, 50);
    assert.match(read(), new RegExp(`one-off-1: ${marker} one-off-1\\n`));
  });

  test('through the API: SSE output and exit events, 202 for a detached run', async () => {
    const res = await fetch(`${slipway.apiUrl}/api/apps/${APP}/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'echo out; echo err >&2; exit 4' }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await res.text();
    assert.match(text, /event: output\ndata: \{"stream":"stdout","line":"out"\}/);
    assert.match(text, /event: output\ndata: \{"stream":"stderr","line":"err"\}/);
    assert.match(text, /event: exit\ndata: \{"code":4,"signal":null\}\n\n$/);

    const detached = await slipway.api('POST', `/api/apps/${APP}/run`, { command: 'true', detached: true });
    assert.equal(detached.status, 202);
    assert.match(detached.json.container, /^one-off-\d+$/);

    const empty = await slipway.api('POST', `/api/apps/${APP}/run`, { command: '  ' });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.code, 'request.invalid');
  });

  test('with a terminal, the run is interactive: keystrokes in, terminal size, exit code out', {
    skip: noTerminal,
  }, async () => {
    // The CLI runs under a pseudo-terminal of its own (util-linux `script`) of 33 rows and 101 columns.
    const output: string[] = [];
    const terminal = spawnProcess(
      [
        'script',
        '--quiet',
        '--flush',
        '--return',
        '--command',
        `stty rows 33 cols 101; exec ${BIN} run -a ${APP} -- sh`,
        '/dev/null',
      ],
      {
        env: baseEnv({ SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, TERM: 'xterm' }),
        stdin: 'pipe',
        onData: (_stream, chunk) => output.push(chunk.toString('utf8')),
      },
    );
    await waitFor(
      async () => (await slipway.api('GET', `/api/apps/${APP}/containers`)).json.length === 2,
      'the interactive one-off to start',
      15_000,
      50,
    );
    terminal.stdin?.write('echo "in $CONTAINER with $TERM"; stty size; exit 5\n');
    const exit = await Promise.race([
      terminal.exited,
      new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(output.join(''))), 15_000).unref()),
    ]);
    const text = output.join('');
    assert.equal(exit.code, 5, text);
    assert.match(text, /in one-off-1 with xterm\r*\n/);
    assert.match(text, /^33 101\r*$/m, 'the remote terminal has the local size');

    const refused = await runProcess(
      ['script', '--quiet', '--return', '--command', `${BIN} run -a ${APP} -- sh`, '/dev/null'],
      { env: baseEnv({ SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: 'wrong-token' }), timeoutMs: 20_000 },
    );
    assert.equal(refused.code, 3, 'a refused token ends the interactive run with the auth exit code');
  });

  test('the interactive endpoint wants the token, reports errors, resizes, and stops the run when the socket closes', {
    skip: noTerminal,
  }, async () => {
    const url = `${slipway.apiUrl.replace(/^http/, 'ws')}/api/apps/${APP}/run/attach`;
    const refused = new WebSocket(url, { headers: { authorization: 'Bearer wrong' } });
    const status = await new Promise<number | undefined>((resolve) => {
      refused.on('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        res.socket.destroy();
        req.destroy();
      });
      refused.on('open', () => resolve(undefined));
    });
    assert.equal(status, 401);

    const socket = new WebSocket(url.replace(APP, 'norelease2'), { headers: { authorization: `Bearer ${TOKEN}` } });
    await new Promise((resolve) => socket.on('open', resolve));
    assert.equal((await slipway.cli(['apps:create', 'norelease2'])).code, 0);
    socket.send(JSON.stringify({ type: 'start', command: 'sh', cols: 80, rows: 24 }));
    const [reply] = (await once(socket, 'message')) as [Buffer];
    assert.deepEqual(JSON.parse(reply.toString()).error.code, 'app.no_release');

    // A resize reaches the container's terminal.
    const resized = new WebSocket(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    let screen = '';
    const messages: { type: string; code?: number }[] = [];
    resized.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) screen += data.toString('utf8');
      else messages.push(JSON.parse(data.toString('utf8')));
    });
    await new Promise((resolve) => resized.on('open', resolve));
    resized.send(JSON.stringify({ type: 'start', command: 'sh', cols: 80, rows: 24 }));
    await waitFor(() => messages.some((m) => m.type === 'started'), 'the run to start', 15_000, 20);
    resized.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    resized.send(Buffer.from('stty size; exit 6\n'), { binary: true });
    await once(resized, 'close');
    assert.match(screen, /^40 120\r?$/m, screen);
    assert.deepEqual(messages.at(-1), { type: 'exit', code: 6, signal: null });

    const marker = `${800 + Math.floor(Math.random() * 1000) / 1000}`;
    const live = new WebSocket(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    await new Promise((resolve) => live.on('open', resolve));
    live.send(JSON.stringify({ type: 'start', command: `sleep ${marker}`, cols: 80, rows: 24 }));
    await waitFor(async () => (await processesWith(marker)).length === 1, 'the interactive run', 15_000, 50);
    live.close();
    await waitFor(async () => (await processesWith(marker)).length === 0, 'no process of the run left', 10_000, 50);
  });

  test('an app without a current release gives a clear error', async () => {
    assert.equal((await slipway.cli(['apps:create', 'norelease'])).code, 0);
    const result = await slipway.cli(['run', '-a', 'norelease', '--', 'true']);
    assert.equal(result.code, 5);
    assert.equal(result.stderr, 'error: norelease has no release yet: deploy it before running commands');
    const api = await slipway.api('POST', '/api/apps/norelease/run', { command: 'true' });
    assert.equal(api.status, 409);
    assert.equal(api.json.error.code, 'app.no_release');
    const missing = await slipway.cli(['run', '-a', 'nosuchapp', '--', 'true']);
    assert.equal(missing.code, 4);
  });

  test('after a failed first deployment, run uses the release it built, and says so', async () => {
    const app = 'firstcrash';
    assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    assert.equal((await slipway.cli(['deploy', fixtureCopy('web-says-why'), '-a', app])).code, 7);
    const result = await slipway.cli(['run', '-a', app, '--', 'echo $CONTAINER_VERSION; ls server.js']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'v1\nserver.js');
    assert.equal(result.stderr, `Running on v1, which is not ${app}'s live release.`);
    const detached = await slipway.api('POST', `/api/apps/${app}/run`, { command: 'true', detached: true });
    assert.deepEqual(detached.json, { container: 'one-off-1', release: 'v1', current: false });
  });

  test("--release runs any release, with that release's config; an unknown one is refused", async () => {
    // v1 is the first deploy, v2 added GREETING: v1's config does not have it.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, for the container's sh
    const old = await slipway.cli(['run', '-a', APP, '--release', 'v1', '--', 'echo "${GREETING-unset}"']);
    assert.equal(old.code, 0, old.stderr);
    assert.equal(old.stdout, 'unset');
    assert.equal(old.stderr, `Running on v1, which is not ${APP}'s live release.`);
    const live = await slipway.cli(['run', '-a', APP, '--release', 'v2', '--', 'echo "$GREETING"']);
    assert.deepEqual([live.code, live.stdout, live.stderr], [0, 'hello there', '']);
    const unknown = await slipway.cli(['run', '-a', APP, '--release', 'v99', '--', 'true']);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /runner has no release v99/);
    const invalid = await slipway.api('POST', `/api/apps/${APP}/run`, { command: 'true', release: 'latest' });
    assert.equal(invalid.status, 400);
  });

  test('destroying an app stops its detached runs', async () => {
    const app = 'doomedrun';
    assert.equal((await slipway.cli(['apps:create', app])).code, 0);
    assert.equal((await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', app])).code, 0);
    const marker = '7654321';
    assert.equal((await slipway.cli(['run', '-a', app, '--detached', '--', `sleep ${marker}`])).code, 0);
    await waitFor(async () => (await processesWith(marker)).length === 1, 'the detached run', 15_000, 50);
    assert.equal((await slipway.cli(['apps:destroy', '--confirm', app])).code, 0);
    assert.deepEqual(await processesWith(marker), [], 'no process of the run outlives its app');
  });
});
