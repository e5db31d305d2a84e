// Sandbox start overhead (method and results in BENCHMARKS.md): the median
// time from asking for a one-off container running `true` / `node -e 1`
// until it has exited and been cleaned up, sandboxed versus the same
// `sh -c <command>` spawned bare (and with BENCH_PROCESS=1 the process driver),
// all in one run, interleaved so machine noise hits every variant alike.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { limitsOf } from '../src/core/container-size.ts';
import { appSearchPath, spawnProcess, userShell } from '../src/exec/index.ts';
import { createProcessDriver, type RuntimeDriver } from '../src/runtime/index.ts';
import { createSandboxDriver, openSandbox } from '../src/runtime/sandbox/index.ts';
import { writeSlug } from '../test/helpers/runtime-helpers.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const WARMUP = 3;
const COMMANDS = ['true', 'node -e 1'];
const USER = { uid: 64_999, gid: 64_999 };

const fmt = (n: number) => `${n.toFixed(1).padStart(6)} ms`;

async function timeBare(command: string, slugDir: string): Promise<number> {
  const t0 = performance.now();
  const proc = spawnProcess(userShell(command), { cwd: slugDir, env: { PATH: appSearchPath(slugDir), HOME: slugDir } });
  const exit = await proc.exited;
  if (exit.code !== 0) throw new Error(`bare ${command}: exit ${exit.code ?? exit.signal}`);
  return performance.now() - t0;
}

let sequence = 0;
async function timeDriver(driver: RuntimeDriver, command: string, slugDir: string): Promise<number> {
  const t0 = performance.now();
  const handle = await driver.start({
    id: `bench-${process.pid}-${++sequence}`,
    app: 'bench',
    name: 'one-off-1',
    slugDir,
    command,
    env: { APP: 'bench' },
    exposePort: false,
    user: USER,
    limits: limitsOf('M'),
    onLine: () => {},
  });
  const exit = await handle.exited;
  if (exit.code !== 0) throw new Error(`${driver.name} ${command}: exit ${exit.code ?? exit.signal}`);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'slipway-bench-sandbox-'));
  const slugDir = path.join(root, 'slug');
  await writeSlug(slugDir, USER);
  const opened = await openSandbox({ scratchDir: path.join(root, 'probe'), home: root });
  if ('missing' in opened) throw new Error(`the sandbox cannot run here: ${opened.missing}`);
  const variants: [string, (command: string) => Promise<number>][] = [
    ['bare spawn', (c) => timeBare(c, slugDir)],
    ['sandbox', (c) => timeDriver(sandbox, c, slugDir)],
  ];
  // For reference only: interleaving its host-side overlay mounts slows the sandbox runs down.
  if (process.env.BENCH_PROCESS === '1')
    variants.push(['process driver', (c) => timeDriver(processDriver, c, slugDir)]);
  const sandbox = createSandboxDriver({ sandbox: opened.sandbox, containersDir: path.join(root, 'sandboxed') });
  const processDriver = createProcessDriver({ containersDir: path.join(root, 'process') });
  try {
    console.log(`one-off container start -> exited (cleaned up), median of ${RUNS} runs after ${WARMUP} warm-ups`);
    console.log(`${os.cpus().length} cores, Node.js ${process.version}, ${os.release()}`);
    for (const command of COMMANDS) {
      const samples = new Map(variants.map(([name]) => [name, [] as number[]]));
      for (let i = 0; i < WARMUP + RUNS; i++) {
        for (const [name, run] of variants) {
          const elapsed = await run(command);
          if (i >= WARMUP) samples.get(name)?.push(elapsed);
        }
      }
      const bare = median(samples.get('bare spawn') ?? []);
      console.log(`\`${command}\``);
      for (const [name] of variants) {
        const values = samples.get(name) ?? [];
        const m = median(values);
        const overhead = name === 'bare spawn' ? '' : `   overhead ${fmt(m - bare)}`;
        console.log(`  ${name.padEnd(15)} median ${fmt(m)}   min ${fmt(Math.min(...values))}${overhead}`);
      }
    }
  } finally {
    await Promise.all([sandbox.close(0), processDriver.close(0)]);
    await opened.sandbox.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
