// Scale (method in BENCHMARKS.md): 100 apps with one web container each on
// one `slipway server`: time to deploy them all 4 at a time, control-plane
// RSS (the server process plus its router worker processes), GET /api/apps
// latency, and router latency to the 100th app.

import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startSlipway } from '../test/helpers/slipway.ts';
import { routerWorkerPids } from '../test/integration/router-worker-helpers.ts';
import { appArchive, deploy } from './deploy-archive.ts';
import { autocannon, fmt, percentile } from './lib.ts';

const APPS = Number(process.env.BENCH_APPS ?? 100);
const PARALLEL = 4;

/** A figure of /proc/<pid>/status (VmRSS) or smaps_rollup (Pss), in MB. */
function memMb(pid: number, file: 'status' | 'smaps_rollup', field: 'VmRSS' | 'Pss'): number {
  const text = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) / 1024;
}

/**
 * Control-plane memory: the server process plus its router workers (the apps' containers are not
 * counted). The VmRSS sum counts the pages the processes share (the node binary) once per process;
 * the PSS sum splits shared pages between them, so it is what the processes cost together.
 */
function controlPlaneMemory(pid: number) {
  const pids = [pid, ...routerWorkerPids(pid)];
  const rss = pids.map((p) => memMb(p, 'status', 'VmRSS'));
  const pss = pids.reduce((sum, p) => sum + memMb(p, 'smaps_rollup', 'Pss'), 0);
  return { rss: rss.reduce((sum, mb) => sum + mb, 0), server: rss[0] ?? 0, workers: rss.slice(1), pss };
}

const showMemory = (m: ReturnType<typeof controlPlaneMemory>) =>
  `${fmt(m.rss)} MB (server ${fmt(m.server)}` +
  (m.workers.length === 0
    ? ''
    : ` + ${m.workers.length} router worker(s) ${m.workers.map((mb) => fmt(mb)).join(' + ')}`) +
  `; PSS ${fmt(m.pss)} MB)`;

const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'error', SLIPWAY_MAX_BUILDS: '4' } });
try {
  const names = Array.from({ length: APPS }, (_, i) => `app-${String(i + 1).padStart(3, '0')}`);
  for (const name of names) await slipway.api('POST', '/api/apps', { name });
  const archive = await appArchive('true');
  const t0 = performance.now();
  const queue = [...names];
  const failed: string[] = [];
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        if ((await deploy(slipway.apiUrl, name, archive)) !== 'success') failed.push(name);
      }
    }),
  );
  const deployAll = (performance.now() - t0) / 1000;
  const memory = controlPlaneMemory(slipway.pid as number);
  const apiTimes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const { status } = await slipway.api('GET', '/api/apps');
    if (status !== 200) throw new Error(`GET /api/apps answered ${status}`);
    apiTimes.push(performance.now() - t);
  }
  const last = names[names.length - 1] as string;
  const router = await autocannon({
    port: slipway.routerPort,
    host: `${last}.localhost`,
    seconds: 5,
    connections: 10,
    rate: 1000,
  });
  console.log(
    [
      `scale: ${APPS} apps, one web container each, deployed ${PARALLEL} at a time`,
      `  deploy all                ${fmt(deployAll)} s (${failed.length} failed)`,
      `  control-plane RSS         ${showMemory(controlPlaneMemory(slipway.pid as number))} after deploys, API and router load; ${showMemory(memory)} right after the deploys`,
      `  GET /api/apps (200 runs)  p50 ${fmt(percentile(apiTimes, 50))} ms   p99 ${fmt(percentile(apiTimes, 99))} ms`,
      `  router to ${last} (1000 req/s, 5 s)  p50 ${fmt(router.p50)} ms   p99 ${fmt(router.p99)} ms   errors ${router.errors} non-2xx ${router.non2xx}`,
    ].join('\n'),
  );
} finally {
  await slipway.stop();
}
