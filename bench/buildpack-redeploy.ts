// A cached Node.js redeploy as users run it (method and results in
// BENCHMARKS.md, "A cached Node.js redeploy through a real server"): a real
// `slipway server` with the sandbox runtime, the kutt-like fixture (522
// packages, better-sqlite3 compiled from source) deployed once, then
// redeployed BENCH_RUNS times (default 3) with one file changed and the same
// lockfile. Each redeploy's build step (from the deployment's own step
// times) is set beside the floor: a bare `cp -a` of the same node_modules
// (the cache's, copied out of its image once) on the home's file system,
// timed right after it. Medians.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { create } from 'tar';
import { HELPER_ENV, runChecked } from '../src/exec/index.ts';
import { startSlipway } from '../test/helpers/slipway.ts';
import { deployUntilFinal, type FinalDeployment } from './deploy-archive.ts';
import { median, ROOT } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const APP = 'kutt-like';

async function archiveOf(dir: string): Promise<Buffer> {
  const file = path.join(os.tmpdir(), `slipway-bench-${process.pid}.tar.gz`);
  await create({ gzip: true, cwd: dir, file, portable: true }, fs.readdirSync(dir));
  const bytes = fs.readFileSync(file);
  fs.rmSync(file);
  return bytes;
}

const stepMs = (d: FinalDeployment, name: string) => {
  const step = d.steps.find((s) => s.name === name);
  if (step?.finished_at == null) throw new Error(`deployment ${d.id} has no finished ${name} step`);
  return Date.parse(step.finished_at) - Date.parse(step.started_at);
};

/** Where a build's time goes: from the step's start, each phase up to a log line, as the lines arrive. */
const PHASES: [string, RegExp][] = [
  ['sandbox start and detect', /^-----> Creating runtime environment/],
  ['checks', /^-----> Installing dependencies/],
  ['restore', /restored node_modules from cache/],
  ['build scripts', /^-----> Pruning devDependencies/],
  ['prune', /^-----> Build succeeded!/],
  ['release, sandbox end, collect', /^-----> Discovering process types/],
  ['.slugignore, size', /^-----> Slug size/],
];

async function deploy(apiUrl: string, source: string): Promise<{ d: FinalDeployment; phases: number[] }> {
  const seen: [number, string][] = [];
  const d = await deployUntilFinal(apiUrl, APP, await archiveOf(source), (line) => seen.push([Date.now(), line]));
  if (d.status !== 'success') throw new Error(`deployment ${d.id} ended ${d.status}`);
  const at = (pattern: RegExp) => seen.find(([, line]) => pattern.test(line))?.[0] ?? Number.NaN;
  let previous = Date.parse(d.steps.find((step) => step.name === 'build')?.started_at ?? '');
  const phases = PHASES.map(([, pattern]) => {
    const t = at(pattern);
    const ms = t - previous;
    previous = t;
    return ms;
  });
  return { d, phases };
}

/**
 * The app's whole node_modules (with devDependencies, as installed), put together once from the
 * kept layer (on the host beside the cache, or in the cache's image, mounted read-only while no
 * build runs): the kept entry is stored as pruning leaves it, its devDependencies and the changed
 * files' first versions beside it. Also returns the pruned one (what the slug holds).
 */
async function cachedNodeModules(home: string, into: string): Promise<{ full: string; pruned: string }> {
  const image = path.join(home, 'cache', `${APP}.img`);
  const onHost = path.join(home, 'cache', `${APP}.kept`, 'nodejs');
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-cache-'));
  await runChecked(['mount', '-o', 'loop,ro', image, mnt], { env: HELPER_ENV });
  const kept = fs.existsSync(onHost) ? onHost : path.join(mnt, 'buildpacks', 'nodejs', 'kept');
  const pruned = `${into}-pruned`;
  try {
    await runChecked(['cp', '-a', path.join(kept, 'build-dir', 'node_modules'), into], { env: HELPER_ENV });
    await runChecked(['cp', '-a', into, pruned], { env: HELPER_ENV });
    for (const part of ['dev', 'before']) {
      const from = path.join(kept, 'node_modules.prune', part);
      if (fs.existsSync(from)) await runChecked(['cp', '-a', `${from}/.`, into], { env: HELPER_ENV });
    }
  } finally {
    await runChecked(['umount', mnt], { env: HELPER_ENV });
    fs.rmdirSync(mnt);
  }
  return { full: into, pruned };
}

async function megabytes(dir: string): Promise<number> {
  return Number.parseInt(await runChecked(['du', '-sm', dir], { env: HELPER_ENV }), 10);
}

async function copyFloor(from: string): Promise<number> {
  const to = `${from}.copy`;
  const t0 = performance.now();
  await runChecked(['cp', '-a', from, to], { env: HELPER_ENV });
  const ms = performance.now() - t0;
  fs.rmSync(to, { recursive: true, force: true });
  return ms;
}

const slipway = await startSlipway({ args: ['--runtime', 'sandbox'] });
const source = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-kutt-'));
fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'buildpack-apps', APP), source, { recursive: true });
// The fixture is dependencies only: a server that loads the native module answers for it.
fs.writeFileSync(
  path.join(source, 'server.js'),
  `const db = new (require('better-sqlite3'))(':memory:');
require('express')()
  .get('/', (q, s) => s.send('sqlite ' + db.prepare('select sqlite_version() v').get().v))
  .listen(Number(process.env.PORT));
`,
);
try {
  await slipway.cli(['apps:create', APP]);
  const { d: first } = await deploy(slipway.apiUrl, source);
  const floorDirs = await cachedNodeModules(slipway.home, path.join(slipway.home, 'bench-node_modules'));
  const builds: number[] = [];
  const floors: number[] = [];
  const prunedFloors: number[] = [];
  const phases: number[][] = PHASES.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    fs.writeFileSync(path.join(source, 'bench-run.txt'), `${i}\n`);
    const { d: again, phases: these } = await deploy(slipway.apiUrl, source);
    for (const [p, ms] of these.entries()) phases[p]?.push(ms);
    const log = (await slipway.cli(['deployments:logs', again.id, '-a', APP])).stdout;
    if (!/restored node_modules from cache/.test(log)) throw new Error(`redeploy did not restore:\n${log}`);
    builds.push(stepMs(again, 'build'));
    floors.push(await copyFloor(floorDirs.full));
    prunedFloors.push(await copyFloor(floorDirs.pruned));
  }
  const b = median(builds);
  const f = median(floors);
  const fp = median(prunedFloors);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(
    [
      `fixture ${APP} through slipway server --runtime sandbox`,
      `first build: ${s(stepMs(first, 'build'))}`,
      `cached redeploys' build step: ${builds.map(s).join(', ')}; median ${s(b)} = ${(b / stepMs(first, 'build')).toFixed(3)}x the first`,
      `floor, cp -a of the same node_modules (${await megabytes(floorDirs.full)} MB, as installed): ${floors.map(s).join(', ')}; median ${s(f)}; build = ${(b / f).toFixed(2)}x the floor`,
      `and of the pruned one the slug holds (${await megabytes(floorDirs.pruned)} MB): ${prunedFloors.map(s).join(', ')}; median ${s(fp)}; build = ${(b / fp).toFixed(2)}x that`,
      "where the redeploys' build step goes (medians, as the log lines arrive):",
      ...PHASES.map(([name], p) => `  ${name}: ${s(median(phases[p] ?? []))}`),
    ].join('\n') + '\n',
  );
} finally {
  await slipway.stop();
  fs.rmSync(source, { recursive: true, force: true });
}
