// Deployment overhead benchmark (method in BENCHMARKS.md): the platform's
// own cost for an app with no build step (Procfile `web` + `postdeploy:
// true`), from the API request to `success`, per step, over several runs; and
// separately the cost of starting a one-off container (what the hook pays
// before its command runs).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createProcessDriver } from '../src/runtime/index.ts';
import { startSlipway, TOKEN } from '../test/helpers/slipway.ts';
import { appArchive } from './deploy-archive.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const ONE_OFF_RUNS = Number(process.env.BENCH_ONE_OFF_RUNS ?? 30);

const ms = (n: number) => `${n.toFixed(0).padStart(5)} ms`;

interface DeploymentJson {
  id: string;
  status: string;
  steps: { name: string; started_at: string; finished_at: string | null }[];
}

async function deployOnce(apiUrl: string, app: string, archive: Buffer) {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const t0 = performance.now();
  const res = await fetch(`${apiUrl}/api/apps/${app}/deployments`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/gzip' },
    body: archive,
  });
  const created = (await res.json()) as DeploymentJson;
  for (;;) {
    const d = (await (
      await fetch(`${apiUrl}/api/apps/${app}/deployments/${created.id}`, { headers })
    ).json()) as DeploymentJson;
    if (d.status === 'success') return { total: performance.now() - t0, deployment: d };
    if (!['queued', 'building', 'pushing', 'starting'].includes(d.status)) throw new Error(`deployment ${d.status}`);
    await new Promise((r) => setTimeout(r, 5));
  }
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

async function main() {
  const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'error' } });
  try {
    await slipway.api('POST', '/api/apps', { name: 'bench' });
    const archive = await appArchive('true');
    await deployOnce(slipway.apiUrl, 'bench', archive); // warm-up: first boot, caches, JIT
    const totals: number[] = [];
    const perStep = new Map<string, number[]>();
    for (let i = 0; i < RUNS; i++) {
      const { total, deployment } = await deployOnce(slipway.apiUrl, 'bench', archive);
      totals.push(total);
      for (const step of deployment.steps) {
        if (!step.finished_at || step.name === 'retire') continue;
        const list = perStep.get(step.name) ?? [];
        list.push(Date.parse(step.finished_at) - Date.parse(step.started_at));
        perStep.set(step.name, list);
      }
    }
    const oneOff = await oneOffStarts();
    const total = median(totals);
    const lines = [
      `deployment overhead: app with no build (web + postdeploy: true), ${RUNS} runs after 1 warm-up`,
      `  API request -> success   median ${ms(total)}   min ${ms(Math.min(...totals))}   max ${ms(Math.max(...totals))}`,
      ...[...perStep].map(([name, values]) => {
        const m = median(values);
        return `  step ${name.padEnd(7)}          median ${ms(m)}   (${((m / total) * 100).toFixed(0).padStart(2)}% of total)`;
      }),
      `one-off container (process runtime, command \`true\`), ${ONE_OFF_RUNS} runs`,
      `  start (view + spawn)      median ${ms(oneOff.start)}`,
      `  start -> exited, cleaned  median ${ms(oneOff.total)}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await slipway.stop();
  }
}

await main();
