// The shell-script floor for the deployment overhead benchmark: the same app
// archive deployed by bench/deploy-floor.sh (unpack, start, wait for the
// port, run the hook, stop the old process), median of several runs.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runProcess } from '../src/exec/index.ts';
import { freePort } from '../src/router/nginx/master-process.ts';
import { baseEnv } from '../test/helpers/slipway.ts';
import { appArchive } from './deploy-archive.ts';
import { fmt, percentile, ROOT } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-floor-'));
const archive = path.join(dir, 'app.tar.gz');
fs.writeFileSync(archive, await appArchive('true'));
let old = '0';
const times: number[] = [];
for (let i = 0; i <= RUNS; i++) {
  const port = await freePort('127.0.0.1');
  const out: string[] = [];
  const t0 = performance.now();
  const result = await runProcess(
    [path.join(ROOT, 'bench', 'deploy-floor.sh'), archive, path.join(dir, `v${i}`), String(port), old],
    {
      env: baseEnv(),
      onLine: (_s, line) => out.push(line),
      timeoutMs: 30_000,
    },
  );
  if (result.code !== 0) throw new Error(`deploy-floor.sh failed: ${out.join('\n')}`);
  if (i > 0) times.push(performance.now() - t0); // the first run is a warm-up
  old = out[out.length - 1] ?? '0';
}
if (old !== '0') process.kill(Number(old));
fs.rmSync(dir, { recursive: true, force: true });
console.log(
  `shell-script floor (bench/deploy-floor.sh: unpack, start, wait for the port, hook, stop old), ${RUNS} runs after 1 warm-up\n` +
    `  median ${fmt(percentile(times, 50), 0)} ms   min ${fmt(Math.min(...times), 0)} ms   max ${fmt(Math.max(...times), 0)} ms`,
);
