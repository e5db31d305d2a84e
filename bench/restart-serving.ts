// Serving across a control-plane crash (issue #21): a real `slipway server
// --runtime docker` with one deployed app (web=2), a request loop through the
// router, SIGKILL the server, start it again on the same home and router
// port; count the requests that failed and the longest time without an
// answer, and time the new start → first 200. Once with the built-in router
// (it lives in the server: nothing answers while the server is down) and once
// with nginx (it outlives the server). Several runs of each; medians.
//
//   BENCH_RESTARTS=3 npm run bench:restart-serving
//   BENCH_ROUTERS=nginx   (only one of them)

import { freePort } from '../src/router/nginx/master-process.ts';
import { routerGet, type Slipway, startSlipway } from '../test/helpers/slipway.ts';
import { appArchive, deploy } from './deploy-archive.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RESTARTS ?? 3);
const ROUTERS = (process.env.BENCH_ROUTERS ?? 'builtin,nginx').split(',');
const APP = 'serving';
const HOST = `${APP}.localhost`;
/** Workers of the request loop; each sends its next request when the last one is answered. */
const CONCURRENCY = 2;
/** How long the loop runs before the kill, and after the new server is up. */
const QUIET_MS = 1000;

interface Run {
  failed: number;
  total: number;
  longestGapMs: number;
  startToFirstOkMs: number;
}

/** One kill and restart under the loop; `slipway` is replaced by the new server. */
async function oneRun(state: { slipway: Slipway }, args: string[], port: number): Promise<Run> {
  const answered: number[] = [];
  let failed = 0;
  let total = 0;
  let running = true;
  const worker = async () => {
    while (running) {
      total++;
      const res = await routerGet(port, HOST).catch(() => null);
      if (res?.status === 200) answered.push(Date.now());
      else {
        failed++;
        await new Promise((r) => setTimeout(r, 2)); // a refused connection fails at once: no busy loop
      }
    }
  };
  const loop = Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await new Promise((r) => setTimeout(r, QUIET_MS));
  await state.slipway.kill();
  const startedAt = Date.now();
  state.slipway = await startSlipway({ home: state.slipway.home, args });
  await new Promise((r) => setTimeout(r, QUIET_MS));
  running = false;
  await loop;
  answered.sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < answered.length; i++) longestGapMs = Math.max(longestGapMs, answered[i]! - answered[i - 1]!);
  const firstOk = answered.find((t) => t >= startedAt);
  return { failed, total, longestGapMs, startToFirstOkMs: firstOk === undefined ? Number.NaN : firstOk - startedAt };
}

const lines = [
  `serving across a SIGKILL and a restart of slipway server --runtime docker, app web=2, ${CONCURRENCY} sequential request loops (${RUNS} runs each; medians, max in brackets)`,
];
for (const router of ROUTERS) {
  const port = await freePort('127.0.0.1');
  const args = ['--runtime', 'docker', '--router', router, '--router-port', String(port)];
  const state = { slipway: await startSlipway({ args }) };
  const runs: Run[] = [];
  try {
    await state.slipway.api('POST', '/api/apps', { name: APP });
    if ((await deploy(state.slipway.apiUrl, APP, await appArchive('true'))) !== 'success')
      throw new Error('deploy failed');
    await state.slipway.api('PATCH', `/api/apps/${APP}/formation`, { web: 2 });
    for (let i = 0; i < RUNS; i++) runs.push(await oneRun(state, args, port));
  } finally {
    await state.slipway.stop();
  }
  const of = (pick: (r: Run) => number) => `${median(runs.map(pick)).toFixed(0)} [${Math.max(...runs.map(pick))}]`;
  lines.push(
    `  ${router.padEnd(8)} failed requests ${of((r) => r.failed)} of ${of((r) => r.total)}; longest gap without an answer ${of((r) => r.longestGapMs)} ms; new start → first 200 ${of((r) => r.startToFirstOkMs)} ms`,
  );
}
console.log(lines.join('\n'));
