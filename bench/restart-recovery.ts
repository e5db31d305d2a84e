// Restart recovery (issue #7): a real `slipway server` (compiled start, as
// `slipway server` runs it) with one deployed app; SIGKILL it, start it again
// on the same home and router port, and time restart → first 200 through the
// router. Several runs, median and spread, plus the server's own start-up
// phases (it logs them at debug level as "start-up timings").

import { routerGet, type Slipway, startSlipway } from '../test/helpers/slipway.ts';
import { appArchive, deploy } from './deploy-archive.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RESTARTS ?? 7);
const APP = 'restart';
const HOST = `${APP}.localhost`;

/** Polls the router every 5 ms until the app answers 200; resolves with when. */
async function firstAnswer(port: number, deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    const res = await routerGet(port, HOST).catch(() => null);
    if (res?.status === 200) return Date.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the app did not answer again within 10 s');
}

/** The phases the server logged at debug level, in ms. */
function phases(output: readonly string[]): Record<string, number> {
  for (const line of output) {
    if (!line.includes('start-up timings')) continue;
    const { msg: _m, level: _l, time: _t, pid: _p, hostname: _h, ...rest } = JSON.parse(line);
    return rest;
  }
  return {};
}

const env = { SLIPWAY_LOG_LEVEL: 'debug' };
let slipway: Slipway = await startSlipway({ env });
const home = slipway.home;
const totals: number[] = [];
const breakdown = new Map<string, number[]>();
try {
  await slipway.api('POST', '/api/apps', { name: APP });
  if ((await deploy(slipway.apiUrl, APP, await appArchive('true'))) !== 'success') throw new Error('deploy failed');
  const port = slipway.routerPort;
  for (let i = 0; i < RUNS; i++) {
    await slipway.kill();
    const restartedAt = Date.now();
    const answered = firstAnswer(port, restartedAt + 10_000);
    slipway = await startSlipway({ home, env, args: ['--router-port', String(port)] });
    totals.push((await answered) - restartedAt);
    await new Promise((r) => setTimeout(r, 300)); // let the restarted server settle (API load) before the next kill
    const { origin, ...server } = phases(slipway.serverOutput);
    const spawn = origin === undefined ? {} : { spawn: origin - restartedAt };
    for (const [phase, ms] of Object.entries({ ...spawn, ...server })) {
      if (typeof ms === 'number') breakdown.set(phase, [...(breakdown.get(phase) ?? []), ms]);
    }
  }
} finally {
  await slipway.stop();
}

const sorted = [...totals].sort((a, b) => a - b);
const lines = [
  `restart recovery: SIGKILL the server with one deployed app, start it again, time until the app answers (${RUNS} runs)`,
  `  restart → first answer: median ${median(totals)} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms`,
];
if (breakdown.size > 0) {
  lines.push('  phases (median ms; spawn: restart → node process start; routedAt: from process start):');
  for (const [phase, values] of breakdown) lines.push(`    ${phase.padEnd(16)} ${median(values).toFixed(0)}`);
}
console.log(lines.join('\n'));
