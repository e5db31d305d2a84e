// The pipeline in the test's own process, wired as server.ts wires it but
// with the process runtime: a real SQLite store, the built-in router on a
// free port, the real builder, slug store and logs, in a temp home. Tests
// drive it through its face (Pipeline) and look at what a user would see:
// deployments in the store, answers through the router, the deployment log.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { create } from 'tar';
import { buildApp } from '../../src/build/build-app.ts';
import { createSlugStore } from '../../src/build/slug-store.ts';
import { dataPaths } from '../../src/config/settings.ts';
import { isFinal } from '../../src/core/lifecycle.ts';
import type { Deployment } from '../../src/core/types.ts';
import { AppLogs } from '../../src/logs/app-log.ts';
import { DeploymentLogs } from '../../src/logs/deployment-log.ts';
import { createPipeline, type Pipeline } from '../../src/pipeline/create-pipeline.ts';
import { diskSpace } from '../../src/pipeline/disk-reserve.ts';
import { type BuiltinRouter, startBuiltinRouter } from '../../src/router/builtin/index.ts';
import { createProcessDriver } from '../../src/runtime/process/index.ts';
import { extractTarball } from '../../src/source/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fixtureCopy, routerGet } from './slipway.ts';
import { waitFor } from './wait.ts';

export interface PipelineHarness {
  readonly pipeline: Pipeline;
  readonly store: Store;
  readonly router: BuiltinRouter;
  readonly logs: DeploymentLogs;
  /** Queues a build of a fixture app (files replaced or added) and returns the queued deployment. */
  deployFixture(app: string, fixture: string, files?: Record<string, string>): Promise<Deployment>;
  /** Resolves with the deployment once it has its final status. */
  finished(id: string, timeoutMs?: number): Promise<Deployment>;
  /** GET / through the router with the app's hostname. */
  get(app: string, urlPath?: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export async function startPipeline(
  settings: { bootTimeoutMs?: number; hookTimeoutMs?: number; restartBackoffMs?: number } = {},
): Promise<PipelineHarness> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-pipeline-'));
  const paths = dataPaths(home);
  for (const dir of [paths.slugs, paths.cache, paths.builds, paths.containers, paths.appLogs]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  const logger = pino({ level: 'silent' });
  const store = await openSqliteStore({ file: paths.database });
  const appLogs = new AppLogs(paths.appLogs, { logger });
  const router = await startBuiltinRouter({ host: '127.0.0.1', port: 0, domain: 'localhost', logger });
  const runtime = createProcessDriver({ containersDir: paths.containers, logger });
  const logs = new DeploymentLogs(paths.deploymentLogs);
  const pipeline = createPipeline({
    store,
    runtime,
    router,
    builder: { build: (options) => buildApp(options) },
    slugs: createSlugStore(paths.slugs),
    extract: extractTarball,
    logs,
    appLogs,
    logger,
    disk: diskSpace(home, { bytes: 0 }),
    settings: {
      domain: 'localhost',
      keepAppsOnExit: false,
      routerUrl: (app) => `http://${app}.localhost:${router.address.port}`,
      bootTimeoutMs: settings.bootTimeoutMs ?? 5000,
      hookTimeoutMs: settings.hookTimeoutMs ?? 10_000,
      buildTimeoutMs: 60_000,
      stopGraceMs: 1000,
      drainTimeoutMs: 1000,
      restartBackoffMs: settings.restartBackoffMs ?? 100,
      maxConcurrentBuilds: 2,
      chaosPause: null,
      maxUnpackedBytes: 64 * 1024 * 1024,
      buildsDir: paths.builds,
      cacheDir: paths.cache,
    },
  });
  await pipeline.start();

  return {
    pipeline,
    store,
    router,
    logs,
    async deployFixture(app, fixture, files = {}) {
      const dir = fixtureCopy(fixture, files);
      const archive = path.join(home, `upload-${Math.random().toString(36).slice(2)}.tar.gz`);
      await create({ gzip: true, cwd: dir, portable: true, file: archive }, fs.readdirSync(dir));
      fs.rmSync(dir, { recursive: true, force: true });
      if (!(await store.apps.get(app))) await pipeline.createApp(app);
      return pipeline.deployArchive(app, archive, { source: 'upload' });
    },
    async finished(id, timeoutMs = 30_000) {
      let found: Deployment | undefined;
      await waitFor(
        async () => {
          found = await store.deployments.get(id);
          return found !== undefined && isFinal(found.status);
        },
        `deployment ${id} to end`,
        timeoutMs,
        20,
      );
      return found as Deployment;
    },
    get: (app, urlPath = '/') => routerGet(router.address.port, `${app}.localhost`, urlPath),
    async close() {
      await pipeline.close();
      await runtime.close(1000);
      await router.close();
      await appLogs.close();
      await store.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
