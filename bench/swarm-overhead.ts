// Swarm runtime benchmark (docs/scale-out.md, "Measured"): a deployment on
// `--runtime swarm` (API request -> success, per step) against the floor of a
// shell script doing `docker service create` (the hook as a replicated job) +
// `docker service update` (the web service) of the same image
// (bench/swarm-floor.sh), runs interleaved; and at the driver: the image made
// per release, a web task's start, and a hook job (start to exit) against a
// bare `docker run --rm` of the same image.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { HELPER_ENV, runChecked } from '../src/exec/index.ts';
import { createEngine, DEFAULT_STACK_IMAGE } from '../src/runtime/docker/index.ts';
import { homeKey } from '../src/runtime/sandbox/network-plan.ts';
import { createReleaseImages, createSwarmDriver } from '../src/runtime/swarm/index.ts';
import { startSlipway } from '../test/helpers/slipway.ts';
import { swarmSkipReason } from '../test/helpers/test-swarm.ts';
import { appArchive, deployUntilFinal } from './deploy-archive.ts';
import { median, ROOT } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ms = (n: number) => `${n.toFixed(0).padStart(5)} ms`;
const USER = { uid: 65_001, gid: 65_001 };
const SERVER = `require('node:http').createServer((q, s) => s.end(process.env.LABEL || 'ok')).listen(Number(process.env.PORT));\n`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** The driver's own costs: image per release, web task start, hook job vs `docker run --rm`. */
async function driverCosts(): Promise<string[]> {
  const engine = createEngine();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-swarm-'));
  const key = homeKey(home);
  const images = createReleaseImages(engine, key, DEFAULT_STACK_IMAGE);
  const driver = createSwarmDriver({ engine, key, images, containersDir: path.join(home, 'containers') });
  const slug = (i: number) => {
    const dir = path.join(home, `slug-${i}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
    return dir;
  };
  const builds: number[] = [];
  const webStarts: number[] = [];
  const hooks: number[] = [];
  const bare: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const slugDir = slug(i);
      const spec = { app: 'bench', release: `v${i + 1}`, slugDir, onLine: () => {}, user: USER };
      let image = '';
      builds.push(await timed(async () => (image = await images.ensure(spec))));
      let web: Awaited<ReturnType<typeof driver.start>> | undefined;
      webStarts.push(
        await timed(async () => {
          web = await driver.start({
            ...spec,
            id: `w${i}`,
            name: 'web-1',
            command: 'node server.js',
            env: {},
            exposePort: true,
          });
        }),
      );
      hooks.push(
        await timed(async () => {
          const hook = await driver.start({
            ...spec,
            id: `h${i}`,
            name: 'postdeploy-1',
            command: 'true',
            env: {},
            exposePort: false,
          });
          await hook.ended;
        }),
      );
      bare.push(
        await timed(() =>
          runChecked(['docker', 'run', '--rm', '--init', '--user', '65001:65001', image, '/bin/sh', '-c', 'true'], {
            env: HELPER_ENV,
          }),
        ),
      );
      await web?.stop(0);
    }
  } finally {
    await driver.close(0);
    await images.removeAll();
    fs.rmSync(home, { recursive: true, force: true });
  }
  return [
    `  image per release (stack + slug, commit)   median ${ms(median(builds))}`,
    `  web task start (service create -> running) median ${ms(median(webStarts))}`,
    `  hook job, start to exit                    median ${ms(median(hooks))}`,
    `  docker run --rm of the same image          median ${ms(median(bare))}`,
    `  hook job / docker run --rm                 ${(median(hooks) / median(bare)).toFixed(2)}x`,
  ];
}

/** Deployments through a server against the shell floor, interleaved. */
async function deployments(): Promise<string[]> {
  const slipway = await startSlipway({ args: ['--runtime', 'swarm'], env: { SLIPWAY_LOG_LEVEL: 'error' } });
  const engine = createEngine();
  const floorService = `slipway-bench-floor-${process.pid}`;
  try {
    await slipway.api('POST', '/api/apps', { name: 'bench' });
    const archive = await appArchive('true');
    await deployUntilFinal(slipway.apiUrl, 'bench', archive); // warm-up
    const image = (
      await engine.request<{ Spec: { TaskTemplate: { ContainerSpec: { Image: string } } } }[]>(
        'GET',
        `/services?filters=${encodeURIComponent(JSON.stringify({ label: ['slipway.app=bench', `slipway.home=${homeKey(slipway.home)}`] }))}`,
      )
    )[0]?.Spec.TaskTemplate.ContainerSpec.Image;
    if (!image) throw new Error('no service of the warm-up deployment');
    const port = 20_000 + (process.pid % 10_000);
    await runChecked(
      [
        'docker',
        'service',
        'create',
        '-d',
        '-q',
        '--init',
        '--name',
        floorService,
        '--endpoint-mode',
        'dnsrr',
        '--publish',
        `mode=host,target=${port},published=${port}`,
        '--env',
        `PORT=${port}`,
        '--user',
        '65001:65001',
        '--workdir',
        '/app',
        image,
        'node',
        'server.js',
      ],
      { env: HELPER_ENV },
    );
    const totals: number[] = [];
    const floors: number[] = [];
    const steps = new Map<string, number[]>();
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const d = await deployUntilFinal(slipway.apiUrl, 'bench', archive);
      totals.push(performance.now() - t0);
      if (d.status !== 'success') throw new Error(`deployment ${d.status}`);
      for (const step of d.steps) {
        if (!step.finished_at || step.name === 'retire') continue;
        steps.set(step.name, [
          ...(steps.get(step.name) ?? []),
          Date.parse(step.finished_at) - Date.parse(step.started_at),
        ]);
      }
      floors.push(
        await timed(() =>
          runChecked([path.join(ROOT, 'bench', 'swarm-floor.sh'), image, floorService, String(port), `run${i}`], {
            env: HELPER_ENV,
          }),
        ),
      );
    }
    return [
      `  deployment on swarm (request -> success)   median ${ms(median(totals))}`,
      ...[...steps].map(
        ([name, values]) => `    step ${name.padEnd(10)}                          median ${ms(median(values))}`,
      ),
      `  shell floor (job create + service update)  median ${ms(median(floors))}`,
      `  ratio to the floor                         ${(median(totals) / median(floors)).toFixed(2)}x`,
    ];
  } finally {
    await engine.request('DELETE', `/services/${floorService}`).catch(() => {});
    await slipway.stop();
    await createReleaseImages(engine, homeKey(slipway.home), DEFAULT_STACK_IMAGE).removeAll();
  }
}

async function main() {
  const missing = await swarmSkipReason();
  if (missing !== null) {
    console.log(`swarm overhead: not measured: ${missing}`);
    return;
  }
  console.log(`swarm runtime, ${RUNS} runs each`);
  for (const line of await driverCosts()) console.log(line);
  for (const line of await deployments()) console.log(line);
}

await main();
