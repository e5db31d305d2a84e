// One running deployment: its id, its log, its abort signal, and the step
// bookkeeping (store first, then the log line a user sees). Every step runs
// with a signal that aborts on a cancel or at the step's deadline, and ends
// promptly either way: a cancel becomes `deploy.aborted`, a deadline the
// step's own timeout error.

import { performance } from 'node:perf_hooks';
import { type ErrorCode, isSlipwayError, SlipwayError } from '../core/errors.ts';
import { canTransition, type DeploymentStatus, isFinal, STATUS_OF_STEP, type Step } from '../core/lifecycle.ts';
import type { Deployment } from '../core/types.ts';
import type { PipelineDeps } from './deps.ts';

const STEP_TITLES: Record<Step, string> = {
  fetch: 'Fetching source',
  build: 'Building',
  slug: 'Storing slug',
  release: 'Running release phase',
  boot: 'Starting containers',
  hook: 'Running postdeploy hook',
  switch: 'Switching traffic',
  retire: 'Retiring old containers',
};

export class DeployContext {
  readonly deps: PipelineDeps;
  readonly signal: AbortSignal;
  #deployment: Deployment;

  /** Frees this deployment's build slot once the build is done (idempotent). */
  readonly releaseBuildSlot: () => void;

  /** Settles once the deployment's final status is in the store. */
  readonly ended: Promise<void>;
  #markEnded = () => {};

  constructor(deps: PipelineDeps, deployment: Deployment, signal: AbortSignal, releaseBuildSlot = () => {}) {
    this.deps = deps;
    this.#deployment = deployment;
    this.signal = signal;
    this.releaseBuildSlot = releaseBuildSlot;
    this.ended = new Promise((resolve) => {
      this.#markEnded = resolve;
    });
  }

  get id(): string {
    return this.#deployment.id;
  }
  get app(): string {
    return this.#deployment.app;
  }
  get deployment(): Deployment {
    return this.#deployment;
  }

  /** Slipway's own lines. */
  log(line: string): void {
    this.deps.logs.append(this.id, line);
  }

  /** Output of the build and the hook: capped per deployment. */
  output(line: string): void {
    this.deps.logs.appendOutput(this.id, line);
  }

  async setStatus(status: DeploymentStatus, patch: Parameters<PipelineDeps['store']['deployments']['update']>[1] = {}) {
    const next = canTransition(this.#deployment.status, status) ? status : this.#deployment.status;
    this.#deployment = await this.deps.store.deployments.update(this.id, { ...patch, status: next });
    if (isFinal(this.#deployment.status)) this.#markEnded();
  }

  /** Records `patch`, through `store` when given (a transaction the caller runs). */
  async update(patch: Parameters<PipelineDeps['store']['deployments']['update']>[1], store = this.deps.store) {
    this.#deployment = await store.deployments.update(this.id, patch);
  }

  throwIfAborted(): void {
    if (this.signal.aborted) {
      throw new SlipwayError('deploy.aborted', `deployment aborted: ${String(this.signal.reason ?? 'cancelled')}`);
    }
  }

  /**
   * Runs one step: recorded in the store, announced with a header, timed.
   * `fn` gets the step's signal (a cancel, or the step's deadline) and must
   * stop when it aborts; the step ends then anyway, once `fn` stopped or at
   * most STEP_SETTLE_MS later, unless `untilDone` (a step that must never be
   * left half done, such as the switch: its `fn` honours the signal only
   * while it has changed nothing yet).
   */
  async step<T>(
    name: Step,
    fn: (signal: AbortSignal) => Promise<T>,
    options: { readonly untilDone?: boolean; readonly deadlineMs?: number } = {},
  ): Promise<T> {
    this.throwIfAborted();
    const store = this.deps.store.deployments;
    await store.startStep(this.id, name, new Date().toISOString());
    const status = STATUS_OF_STEP[name];
    if (status !== this.#deployment.status && status !== 'success') await this.setStatus(status, { step: name });
    else this.#deployment = { ...this.#deployment, step: name }; // as startStep recorded it
    this.log(`-----> ${STEP_TITLES[name]}`);
    const deadlineMs = options.deadlineMs ?? stepDeadlineMs(this.deps, name);
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = AbortSignal.any([this.signal, deadline]);
    const started = performance.now();
    try {
      await chaosPause(this.deps, name, signal);
      const work = fn(signal);
      if (options.untilDone) return await work;
      return await settleOnAbort(work, signal, this.deps, { app: this.app, deployment: this.id, step: name });
    } catch (err) {
      if (this.signal.aborted) {
        throw isSlipwayError(err, 'deploy.aborted')
          ? err
          : new SlipwayError('deploy.aborted', `deployment aborted: ${String(this.signal.reason ?? 'cancelled')}`);
      }
      if (deadline.aborted && !isSlipwayError(err, DEADLINE_ERRORS[name])) {
        throw new SlipwayError(
          DEADLINE_ERRORS[name],
          `step ${name} ran past its deadline of ${formatMs(deadlineMs)} and was stopped`,
        );
      }
      throw err;
    } finally {
      // A failed bookkeeping write (a full disk) must not hide what the step did.
      await store.finishStep(this.id, name, new Date().toISOString()).catch((err: unknown) => {
        this.deps.logger.warn({ err, deployment: this.id, step: name }, 'could not record the end of a step');
      });
      this.log(`       ${name} took ${formatMs(performance.now() - started)}`);
    }
  }
}

/** The error a step's deadline becomes: each step fails the way its own timeout would. */
const DEADLINE_ERRORS: Readonly<Record<Step, ErrorCode>> = {
  fetch: 'build.failed',
  build: 'build.failed',
  slug: 'build.failed',
  release: 'deploy.release_timeout',
  boot: 'deploy.boot_timeout',
  hook: 'deploy.hook_timeout',
  switch: 'deploy.boot_timeout',
  retire: 'internal',
};

/** Unpacking or storing a source of the largest accepted size takes far less on any disk. */
const FILE_STEP_DEADLINE_MS = 10 * 60_000;
/** Beyond a step's own timeout: room for stopping what it started. */
export const DEADLINE_MARGIN_MS = 60_000;

/** How long a step may take at most, whatever it waits on. */
export function stepDeadlineMs(deps: PipelineDeps, step: Step): number {
  const { settings } = deps;
  switch (step) {
    case 'fetch':
    case 'slug':
      return FILE_STEP_DEADLINE_MS;
    case 'build':
      return settings.buildTimeoutMs + DEADLINE_MARGIN_MS;
    case 'boot':
      return settings.bootTimeoutMs + DEADLINE_MARGIN_MS;
    case 'release':
    case 'hook':
      // The hook step passes its app's own timeout, which may differ.
      return settings.hookTimeoutMs + DEADLINE_MARGIN_MS;
    case 'switch':
      // Mostly waiting for the app's lock (a scale or restart in progress), then one route swap.
      return settings.bootTimeoutMs + DEADLINE_MARGIN_MS;
    case 'retire':
      return settings.drainTimeoutMs + settings.stopGraceMs + DEADLINE_MARGIN_MS;
  }
}

/** Once a step's work has stopped after an abort, or at most this long after it. */
const STEP_SETTLE_MS = 5000;

/**
 * `work`'s outcome. When `signal` aborts first: once `work` has settled, its
 * outcome (a success lets the deployment go on to the next step, which then
 * ends it); if it has not within STEP_SETTLE_MS, the abort's reason (a step
 * that does not stop is logged, and left to finish on its own).
 */
async function settleOnAbort<T>(
  work: Promise<T>,
  signal: AbortSignal,
  deps: PipelineDeps,
  context: Record<string, string>,
): Promise<T> {
  let onAbort = () => {};
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([work, aborted]);
    if (first !== 'aborted') return first as T;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), STEP_SETTLE_MS);
  });
  const settled = await Promise.race([
    work.then(
      () => 'done' as const,
      () => 'done' as const,
    ),
    late,
  ]);
  clearTimeout(timer);
  if (settled === 'done') return work;
  work.catch(() => {});
  deps.logger.warn(context, 'a step did not stop within 5 s of its abort; the deployment ends without waiting for it');
  throw signal.reason;
}

/** Chaos testing only (SLIPWAY_CHAOS_PAUSE): waits on entering the configured step (a cancel ends the wait). */
export async function chaosPause(deps: PipelineDeps, step: Step, signal?: AbortSignal): Promise<void> {
  const pause = deps.settings.chaosPause;
  if (pause?.step !== step) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, pause.ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}
