// The shell-script floor for the deployment overhead benchmark: the same app
// archive deployed by bench/deploy-floor.sh (unpack, start, wait for the
// port, run the hook, stop the old process), median of several runs. The
// runner is also used by bench/deploy-overhead.ts, which interleaves floor runs
// with its deployments so that both are measured under the same load.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../src/exec/index.ts';
import { freePort } from '../src/router/nginx/master-process.ts';
import { baseEnv } from '../test/helpers/slipway.ts';
import { appArchive } from './deploy-archive.ts';
import { fmt, percentile, ROOT } from './lib.ts';

export interface FloorRunner {
  /** One deployment by the script; resolves with its wall time in ms. */
  run(): Promise<number>;
  /** Stops the last app and removes the runner's files. */
  close(): void;
}

export async function floorRunner(archive: Buffer): Promise<FloorRunner> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-floor-'));
  const file = path.join(dir, 'app.tar.gz');
  fs.writeFileSync(file, archive);
  let old = '0';
  let sequence = 0;
  return {
    async run() {
      const port = await freePort('127.0.0.1');
      const out: string[] = [];
      const t0 = performance.now();
      const result = await runProcess(
        [path.join(ROOT, 'bench', 'deploy-floor.sh'), file, path.join(dir, `v${sequence++}`), String(port), old],
        {
          env: baseEnv(),
          onLine: (_s, line) => out.push(line),
          timeoutMs: 30_000,
        },
      );
      if (result.code !== 0) throw new Error(`deploy-floor.sh failed: ${out.join('\n')}`);
      const elapsed = performance.now() - t0;
      old = out[out.length - 1] ?? '0';
      return elapsed;
    },
    close() {
      if (old !== '0') process.kill(Number(old));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const RUNS = Number(process.env.BENCH_RUNS ?? 9);
  const floor = await floorRunner(await appArchive('true'));
  const times: number[] = [];
  try {
    await floor.run(); // warm-up
    for (let i = 0; i < RUNS; i++) times.push(await floor.run());
  } finally {
    floor.close();
  }
  console.log(
    `shell-script floor (bench/deploy-floor.sh: unpack, start, wait for the port, hook, stop old), ${RUNS} runs after 1 warm-up\n` +
      `  median ${fmt(percentile(times, 50), 0)} ms   min ${fmt(Math.min(...times), 0)} ms   max ${fmt(Math.max(...times), 0)} ms`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
