// The nodejs buildpack's node_modules cache (method and results in
// BENCHMARKS.md, "Buildpack node_modules cache"): bin/compile of the
// kutt-like fixture (522 packages, better-sqlite3 compiled from source) with
// an empty cache, then again with the same lockfile (node_modules restored,
// no install), against the floor: a bare `cp -a` of the same node_modules.
// Also the slug's node_modules with and without devDependencies.
// BENCH_RUNS (default 3) cached compiles and copies are timed; medians shown.

import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runChecked } from '../src/exec/index.ts';
import { prepareBuild, runStep } from '../test/helpers/buildpack-api.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FIXTURE = 'kutt-like';

async function megabytes(dir: string): Promise<number> {
  const out = await runChecked(['du', '-sk', dir], { env: { PATH: '/usr/bin:/bin' } });
  return Number(out.split('\t')[0]) / 1024;
}

async function copyFloor(from: string, scratch: string): Promise<number> {
  const to = path.join(scratch, `copy-${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  await runChecked(['cp', '-a', from, to], { env: { PATH: '/usr/bin:/bin' } });
  const ms = performance.now() - t0;
  await fs.rm(to, { recursive: true, force: true });
  return ms;
}

const first = await prepareBuild(FIXTURE);
try {
  const cold = await runStep('nodejs', 'compile', first, 600_000);
  if (cold.code !== 0) throw new Error(`first compile failed:\n${cold.output}`);
  const lock = JSON.parse(await fs.readFile(path.join(first.buildDir, 'package-lock.json'), 'utf8'));
  const packages = Object.keys(lock.packages).filter((k) => k !== '').length;
  // The installed node_modules: the kept entry is stored as pruning leaves it, the rest beside it.
  const kept = path.join(first.cacheDir, 'kept');
  const cacheEntry = path.join(first.root, 'installed-node_modules');
  const cp = (from: string, to: string) => runChecked(['cp', '-a', from, to], { env: { PATH: '/usr/bin:/bin' } });
  await cp(path.join(kept, 'build-dir', 'node_modules'), cacheEntry);
  for (const part of ['dev', 'before']) await cp(`${path.join(kept, 'node_modules.prune', part)}/.`, cacheEntry);
  const withDev = await megabytes(cacheEntry);
  const pruned = await megabytes(path.join(first.buildDir, 'node_modules'));

  const warm: number[] = [];
  const floor: number[] = [];
  const restore: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const again = await prepareBuild(FIXTURE, {}, first.cacheDir);
    try {
      const result = await runStep('nodejs', 'compile', again, 600_000);
      if (result.code !== 0 || !/restored node_modules from cache/.test(result.output)) {
        throw new Error(`cached compile did not restore:\n${result.output}`);
      }
      warm.push(result.ms);
      restore.push(
        Number(/restored node_modules from cache \(lockfile unchanged\) in (\d+) ms/.exec(result.output)?.[1]),
      );
    } finally {
      await again.remove();
    }
    floor.push(await copyFloor(cacheEntry, first.root));
  }
  const w = median(warm);
  const f = median(floor);
  process.stdout.write(
    `${[
      `fixture ${FIXTURE}: ${packages} packages in package-lock.json, better-sqlite3 built from source`,
      `first compile (empty cache, npm ci + native build): ${(cold.ms / 1000).toFixed(1)} s`,
      `second compile (same lockfile, node_modules restored, prune replayed), median of ${RUNS}: ${(w / 1000).toFixed(2)} s = ${(w / cold.ms).toFixed(3)}x the first`,
      `  of which the restore's cp -a: ${(median(restore) / 1000).toFixed(2)} s`,
      `floor: cp -a of the same node_modules (${withDev.toFixed(0)} MB), median of ${RUNS}: ${(f / 1000).toFixed(2)} s; second compile = ${(w / f).toFixed(2)}x the floor`,
      `slug node_modules: ${pruned.toFixed(0)} MB without devDependencies, ${withDev.toFixed(0)} MB with them (${((pruned / withDev) * 100).toFixed(0)}%)`,
    ].join('\n')}\n`,
  );
} finally {
  await first.remove();
}
