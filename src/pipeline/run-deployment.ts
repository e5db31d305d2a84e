// One deployment, start to end, in exactly the order of DESIGN §1:
// fetch → build → slug → release → boot → hook → switch → retire. Any failure before
// the switch stops the new containers and leaves the old release serving.

import fs from 'node:fs';
import path from 'node:path';
import { shortCommit } from '../core/commit-sha.ts';
import { isSlipwayError, SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import { type DeploymentStatus, failureStatus, type Step } from '../core/lifecycle.ts';
import { type ConfigVars, type Release, releaseName } from '../core/types.ts';
import type { PreparedContainer } from '../runtime/types.ts';
import type { Store } from '../store/types.ts';
import type { AppLocks } from './app-lock.ts';
import { bootRelease, bootTimeoutMs } from './boot-release.ts';
import { chaosPause, DEADLINE_MARGIN_MS, type DeployContext, formatMs } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';
import type { LiveContainer, LiveContainers } from './live-containers.ts';
import { hookCommand, planHook, runHookStep, runReleasePhase } from './run-hooks.ts';
import { prepareOneOff } from './run-one-off-command.ts';
import { applyFormation } from './scale-processes.ts';
import { retireContainers, routeApp, stopContainers } from './switch-traffic.ts';

/** Where an uploaded archive waits for its deployment. */
export function archivePath(deps: PipelineDeps, deploymentId: string): string {
  return path.join(deps.settings.buildsDir, `${deploymentId}.tar.gz`);
}

export interface DeploymentRun {
  /**
   * After a success: settles once the old containers are retired and the
   * formation is reconciled (never rejects on a failed stop: that is logged).
   */
  readonly retiring: Promise<void>;
}

/**
 * Runs a deployment until it has its final status. Retiring the old
 * containers (up to the stop grace period) then goes on in the background, so
 * that the app's next deployment need not wait for it.
 */
export async function runDeployment(ctx: DeployContext, live: LiveContainers, locks: AppLocks): Promise<DeploymentRun> {
  const { deps } = ctx;
  const started: LiveContainer[] = [];
  let hookContainer: Promise<PreparedContainer> | undefined;
  const t0 = Date.now();
  try {
    const release = ctx.deployment.kind === 'build' ? await buildRelease(ctx) : await existingRelease(ctx);
    await applyManifestFormation(ctx, release);
    await runReleasePhase(ctx, release);
    const hook = ctx.deployment.runHook ? await planHook(ctx, release) : null;
    // The hook's container is made ready while the new containers boot, so the hook step only starts it.
    const prepareHook = () => {
      if (!hook) return;
      hookContainer = prepareOneOff(deps, hook.app, release, hookCommand(hook), ctx);
      hookContainer.catch(() => {}); // a failed preparation is reported by the hook step
    };
    const app = await deps.store.apps.require(ctx.app);
    const booted = await ctx.step(
      'boot',
      (signal) =>
        bootRelease(deps, release, {
          log: (line) => ctx.log(line),
          signal,
          started,
          whileBooting: prepareHook,
        }),
      { deadlineMs: bootTimeoutMs(deps, app) + DEADLINE_MARGIN_MS },
    );
    if (ctx.deployment.runHook) await runHookStep(ctx, release, hook, hookContainer, booted.crashed);
    booted.disarm();

    // A cancel stops the switch only while it waits for the app's lock: once it changed something, it completes.
    const old = await ctx.step(
      'switch',
      (signal) =>
        locks.with(
          ctx.app,
          async () => {
            const previous = live.get(ctx.app);
            live.set(ctx.app, booted.containers);
            await routeApp(deps, ctx.app, live.running(ctx.app));
            await deps.store.apps.setCurrentRelease(ctx.app, release.version);
            await ctx.setStatus('success', { finishedAt: new Date().toISOString() });
            return previous;
          },
          signal,
        ),
      { untilDone: true },
    );
    ctx.log(
      `=====> ${releaseName(release.version)} is live at ${deps.settings.routerUrl(ctx.app)} (${formatMs(Date.now() - t0)})`,
    );
    if (old.length > 0) ctx.log(`       retiring ${old.length} old container(s) after in-flight requests finish`);
    deps.logs.finish(ctx.id);
    return { retiring: retire(ctx, old).then(() => reconcileFormation(ctx, live, locks)) };
  } catch (err) {
    await hookContainer?.then((container) => container.discard()).catch(() => {}); // a no-op once started
    await fail(ctx, err, started);
    deps.logs.finish(ctx.id);
    return { retiring: Promise.resolve() };
  } finally {
    await fs.promises.rm(archivePath(deps, ctx.id), { force: true });
  }
}

async function buildRelease(ctx: DeployContext): Promise<Release> {
  const { deps } = ctx;
  const buildDir = path.join(deps.settings.buildsDir, ctx.id);
  let stored = false;
  try {
    await ctx.step('fetch', async (signal) => {
      await emptyDir(buildDir);
      const stats = await deps.extract(
        archivePath(deps, ctx.id),
        buildDir,
        { maxBytes: deps.settings.maxUnpackedBytes },
        // Refused before a byte is written when it would eat into the server's reserve.
        { signal, beforeUnpack: ({ bytes }) => deps.disk.checkRoom('unpacking the source', bytes) },
      );
      ctx.log(`       ${stats.files} files, ${formatBytes(stats.bytes)}`);
    });
    const built = await ctx.step('build', async (signal) =>
      deps.builder.build({
        app: ctx.app,
        buildDir,
        sourceVersion: ctx.deployment.commitSha,
        cacheDir: path.join(deps.settings.cacheDir, ctx.app),
        config: await deps.store.config.get(ctx.app),
        appBuildpacks: (await deps.store.apps.require(ctx.app)).buildpacks,
        // The builder's own headers and notes come formatted; command output gets indented.
        onLine: (line) => ctx.output(/^(----->| {7})/.test(line) ? line : `       ${line}`),
        timeoutMs: deps.settings.buildTimeoutMs,
        signal,
      }),
    );
    return await ctx.step('slug', async (signal) => {
      const slugId = await deps.slugs.store(ctx.app, buildDir, signal);
      stored = true; // the build directory is the slug now
      const sha = ctx.deployment.commitSha;
      let release: Release;
      try {
        // The release and the deployment's link to it, written together or not at all.
        release = await deps.store.transaction(async (tx) => {
          const created = await tx.releases.create({
            app: ctx.app,
            slugId,
            config: await withDefaults(ctx, tx, built.configDefaults ?? {}),
            processes: built.processes,
            procfilePostdeploy: built.procfilePostdeploy,
            releaseCommand: built.procfileRelease,
            manifest: built.manifest,
            commitSha: sha,
            description: sha ? `Deploy ${shortCommit(sha)}` : `Deploy ${ctx.id}`,
            deploymentId: ctx.id,
            author: ctx.deployment.author,
          });
          await ctx.update({ releaseVersion: created.version }, tx);
          return created;
        });
      } catch (err) {
        // No release will ever use it.
        await deps.slugs.remove(ctx.app, slugId).catch((cleanup: unknown) => {
          deps.logger.warn({ err: cleanup, app: ctx.app, slug: slugId }, 'could not remove an unused slug');
        });
        throw err;
      }
      ctx.log(`       release ${releaseName(release.version)} created (not yet current)`);
      return release;
    });
  } finally {
    ctx.releaseBuildSlot();
    if (!stored) await fs.promises.rm(buildDir, { recursive: true, force: true });
  }
}

/**
 * The app's config, with the buildpacks' defaults (bin/release config_vars)
 * written into it for the vars it does not set: as on Heroku, they become the
 * app's config vars, which `env:set` overrides and `env` shows.
 */
async function withDefaults(
  ctx: DeployContext,
  tx: Pick<Store, 'config'>,
  defaults: Readonly<Record<string, string>>,
): Promise<ConfigVars> {
  const config = await tx.config.get(ctx.app);
  const missing = Object.entries(defaults).filter(([key]) => config[key] === undefined);
  if (missing.length === 0) return config;
  ctx.log(`       config vars set from the buildpacks' defaults: ${missing.map(([key]) => key).join(', ')}`);
  return tx.config.update(ctx.app, Object.fromEntries(missing));
}

/** A new empty private directory; one left over (the server restarts clean) is replaced. */
async function emptyDir(dir: string): Promise<void> {
  try {
    // One metadata write: microseconds, where a trip to the thread pool can cost milliseconds on a busy host.
    fs.mkdirSync(dir, { mode: 0o700 });
    return;
  } catch {
    // It exists, or its parent does not: the general way below.
  }
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
}

async function existingRelease(ctx: DeployContext): Promise<Release> {
  const version = ctx.deployment.releaseVersion;
  const release = version === null ? undefined : await ctx.deps.store.releases.get(ctx.app, version);
  if (!release) throw new SlipwayError('deploy.no_release', `release ${version} of ${ctx.app} not found`);
  const verb = ctx.deployment.kind === 'config' ? 'Restarting with' : 'Deploying';
  ctx.log(`-----> ${verb} ${releaseName(release.version)}: ${release.description}`);
  return release;
}

/**
 * Until an app has a live release, its manifest's `formation` gives the
 * quantities of the process types nobody has scaled yet (as an app's setup
 * does on Heroku); after that, only `scale` changes them.
 */
async function applyManifestFormation(ctx: DeployContext, release: Release): Promise<void> {
  const declared = release.manifest?.formation;
  if (!declared) return;
  const { store } = ctx.deps;
  if ((await store.apps.require(ctx.app)).currentRelease !== null) return;
  const stored = await store.formation.get(ctx.app);
  const unset = Object.entries(declared).filter(([type]) => stored[type] === undefined && type in release.processes);
  if (unset.length === 0) return;
  await store.formation.set(ctx.app, Object.fromEntries(unset));
  const list = unset.map(([type, n]) => `${type}=${n}`).join(' ');
  ctx.log(`-----> ${release.manifest?.file} formation applies to this first deployment: ${list}`);
}

async function retire(ctx: DeployContext, old: readonly LiveContainer[]): Promise<void> {
  const { deps } = ctx;
  await deps.store.deployments.startStep(ctx.id, 'retire', new Date().toISOString());
  try {
    await chaosPause(deps, 'retire');
    await retireContainers(deps, old);
  } catch (err) {
    deps.logger.error({ err, app: ctx.app, deployment: ctx.id, step: 'retire' }, 'retiring old containers failed');
  } finally {
    await deps.store.deployments.finishStep(ctx.id, 'retire', new Date().toISOString());
  }
}

/** A scale while this deployment booted changed the formation it started from: catch up. */
async function reconcileFormation(ctx: DeployContext, live: LiveContainers, locks: AppLocks): Promise<void> {
  try {
    await locks.with(ctx.app, () => applyFormation(ctx.deps, live, ctx.app));
  } catch (err) {
    const message = isSlipwayError(err) ? err.message : 'internal error (see the server log)';
    ctx.deps.appLogs.write(ctx.app, 'slipway', `[slipway] could not apply the formation: ${message}`);
    ctx.deps.logger.error(
      { err, app: ctx.app, deployment: ctx.id },
      'applying the formation after a deployment failed',
    );
  }
}

async function fail(ctx: DeployContext, err: unknown, started: readonly LiveContainer[]): Promise<void> {
  const { deps } = ctx;
  const error = isSlipwayError(err) ? err : null;
  if (!error) deps.logger.error({ err, app: ctx.app, deployment: ctx.id }, 'deployment failed unexpectedly');
  const code = error?.code ?? 'internal';
  const message = error?.message ?? 'internal error (see the server log)';
  const step = ctx.deployment.step;
  const status: DeploymentStatus = error ? failureStatus(code) : statusOfUnexpected(step);
  const record = () => recordFailure(ctx, status, { code, message });
  // A cancel is answered as soon as the deployment has ended: its new containers, which never served, stop after.
  if (status === 'aborted') await record();
  if (started.length > 0) {
    ctx.log(`       stopping ${started.length} new container(s); the previous release keeps serving`);
    await stopContainers(deps, started).catch((err: unknown) => {
      deps.logger.error({ err, app: ctx.app, deployment: ctx.id }, 'stopping the new containers failed');
    });
  }
  if (status !== 'aborted') await record();
  ctx.log(`=====> Deployment failed (${status}) at step ${step ?? 'queued'}: ${message}`);
}

/** Pauses between attempts to record a failure the store refused (a full disk), and how many. */
const RECORD_RETRY_MS = 500;
const RECORD_ATTEMPTS = 20;

/**
 * Records the final status. A store that cannot write right now (a full disk)
 * is tried again for ~10 s: a deployment must not stay `building` because
 * its failure could not be written. If it still cannot, the next start of
 * the server ends it (`aborted`, control-plane restart).
 */
async function recordFailure(
  ctx: DeployContext,
  status: DeploymentStatus,
  error: { code: string; message: string },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.setStatus(status, { error, finishedAt: new Date().toISOString() });
      return;
    } catch (err) {
      if (attempt >= RECORD_ATTEMPTS) {
        ctx.deps.logger.error({ err, app: ctx.app, deployment: ctx.id }, 'could not record the end of a deployment');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS));
    }
  }
}

function statusOfUnexpected(step: Step | null): DeploymentStatus {
  if (step === 'boot') return 'crashed-error';
  if (step === 'hook' || step === 'release') return 'hook-error';
  return 'build-error';
}
