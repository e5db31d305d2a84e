// Deployment overhead benchmark (method in BENCHMARKS.md): the platform's
// own cost for an app with no build step (Procfile `web` + `postdeploy:
// true`), from the API request to `success`, per step, over several runs, with
// the default sandbox runtime and with the process runtime side by side; and
// separately the cost of starting a one-off container (what the hook pays
// before its command runs). The shell-script floor (bench/deploy-floor.ts) is
// run between the deployments, so that each runtime's ratio to it is taken
// under the same load.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createProcessDriver } from '../src/runtime/index.ts';
import { type Slipway, startSlipway } from '../test/helpers/slipway.ts';
import { appArchive, deployUntilFinal } from './deploy-archive.ts';
import { floorRunner } from './deploy-floor.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const ONE_OFF_RUNS = Number(process.env.BENCH_ONE_OFF_RUNS ?? 30);
/** Pause after each measured run, so that what it leaves running (retiring, clean-up) does not weigh on the next. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 250);

const ms = (n: number) => `${n.toFixed(0).padStart(5)} ms`;

interface Measured {
  /** Request sent -> the client sees `success`. */
  total: number;
  /** Request sent -> step `fetch` starts: upload, archive check, queue hand-off (wall clocks, ms resolution). */
  intake: number;
  /** Step `switch` done -> the client sees `success` (the end event of the log stream it follows). */
  report: number;
  steps: Map<string, number>;
}

async function deployOnce(apiUrl: string, app: string, archive: Buffer): Promise<Measured> {
  const sentAt = Date.now();
  const t0 = performance.now();
  const d = await deployUntilFinal(apiUrl, app, archive);
  const seenAt = Date.now();
  const total = performance.now() - t0;
  if (d.status !== 'success') throw new Error(`deployment ${d.status}`);
  const steps = new Map<string, number>();
  for (const step of d.steps) {
    if (!step.finished_at || step.name === 'retire') continue;
    steps.set(step.name, Date.parse(step.finished_at) - Date.parse(step.started_at));
  }
  const at = (name: string, field: 'started_at' | 'finished_at') =>
    Date.parse(d.steps.find((s) => s.name === name)?.[field] ?? '');
  return { total, intake: at('fetch', 'started_at') - sentAt, report: seenAt - at('switch', 'finished_at'), steps };
}

async function oneOffStarts(): Promise<{ start: number; total: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-oneoff-'));
  const slug = path.join(dir, 'slug');
  fs.mkdirSync(slug);
  fs.writeFileSync(path.join(slug, 'Procfile'), 'web: true\n');
  const driver = createProcessDriver({ containersDir: path.join(dir, 'containers') });
  const starts: number[] = [];
  const totals: number[] = [];
  for (let i = 0; i < ONE_OFF_RUNS; i++) {
    const t0 = performance.now();
    const handle = await driver.start({
      id: `bench-${i}`,
      app: 'bench',
      name: 'postdeploy-1',
      slugDir: slug,
      command: 'true',
      env: { APP: 'bench', CONTAINER: 'postdeploy-1' },
      exposePort: false,
      onLine: () => {},
    });
    starts.push(performance.now() - t0);
    await handle.exited;
    totals.push(performance.now() - t0);
  }
  await driver.close(1000);
  fs.rmSync(dir, { recursive: true, force: true });
  return { start: median(starts), total: median(totals) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** The default runtime (sandbox) and the process runtime, each its own server. */
const RUNTIMES = ['sandbox', 'process'] as const;

async function startServers(): Promise<{ runtime: string; slipway: Slipway }[]> {
  const servers: { runtime: string; slipway: Slipway }[] = [];
  for (const runtime of RUNTIMES) {
    try {
      const slipway = await startSlipway({ args: ['--runtime', runtime], env: { SLIPWAY_LOG_LEVEL: 'error' } });
      servers.push({ runtime, slipway });
    } catch (err) {
      // The sandbox cannot run on every host: say so and measure the rest.
      console.log(`${runtime}: not measured, the server did not start: ${String(err).split('\n')[0]}`);
    }
  }
  return servers;
}

function report(runtime: string, runs: readonly Measured[], floor: number): string[] {
  const totals = runs.map((r) => r.total);
  const total = median(totals);
  const label = runtime.padEnd(8);
  const line = (name: string, values: number[]) => {
    const m = median(values);
    return `  ${label} ${name.padEnd(22)} median ${ms(m)}   (${((m / total) * 100).toFixed(0).padStart(2)}% of total)`;
  };
  const stepNames = [...new Set(runs.flatMap((r) => [...r.steps.keys()]))];
  return [
    `  ${label} API request -> success median ${ms(total)}   min ${ms(Math.min(...totals))}   max ${ms(Math.max(...totals))}`,
    `  ${label} ratio to the floor     ${(total / floor).toFixed(2)}x`,
    line(
      'request -> fetch',
      runs.map((r) => r.intake),
    ),
    ...stepNames.map((name) =>
      line(
        `step ${name}`,
        runs.map((r) => r.steps.get(name) ?? 0),
      ),
    ),
    line(
      'switch -> seen',
      runs.map((r) => r.report),
    ),
  ];
}

async function main() {
  const servers = await startServers();
  try {
    const archive = await appArchive('true');
    for (const { slipway } of servers) {
      await slipway.api('POST', '/api/apps', { name: 'bench' });
      await deployOnce(slipway.apiUrl, 'bench', archive); // warm-up: first boot, caches, JIT
    }
    const runs = new Map<string, Measured[]>(servers.map((s) => [s.runtime, []]));
    const floor = await floorRunner(archive);
    const floors: number[] = [];
    try {
      await floor.run(); // warm-up
      // Interleaved run by run (floor, sandbox, process, ...), so that noise from the rest of the
      // machine hits every runtime and the floor alike.
      for (let i = 0; i < RUNS; i++) {
        floors.push(await floor.run());
        await settle();
        for (const { runtime, slipway } of servers) {
          runs.get(runtime)?.push(await deployOnce(slipway.apiUrl, 'bench', archive));
          await settle();
        }
      }
    } finally {
      floor.close();
    }
    const floorMedian = median(floors);
    const oneOff = await oneOffStarts();
    const lines = [
      `deployment overhead: app with no build (web + postdeploy: true), ${RUNS} runs per runtime after 1 warm-up, runtimes and the floor interleaved`,
      `  floor    shell-script floor     median ${ms(floorMedian)}   min ${ms(Math.min(...floors))}   max ${ms(Math.max(...floors))}   (bench/deploy-floor.sh, run between the deployments)`,
      ...[...runs].flatMap(([runtime, measured]) => report(runtime, measured, floorMedian)),
      `one-off container (process runtime, command \`true\`), ${ONE_OFF_RUNS} runs`,
      `  start (view dirs + spawn) median ${ms(oneOff.start)}`,
      `  start -> exited, cleaned  median ${ms(oneOff.total)}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    for (const { slipway } of servers) await slipway.stop();
  }
}

await main();
