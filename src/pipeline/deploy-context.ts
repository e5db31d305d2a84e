// One running deployment: its id, its log, its abort signal, and the step
// bookkeeping (store first, then the log line a user sees).

import { performance } from 'node:perf_hooks';
import { SlipwayError } from '../core/errors.ts';
import { canTransition, type DeploymentStatus, STATUS_OF_STEP, type Step } from '../core/lifecycle.ts';
import type { Deployment } from '../core/types.ts';
import type { PipelineDeps } from './deps.ts';

const STEP_TITLES: Record<Step, string> = {
  fetch: 'Fetching source',
  build: 'Building',
  slug: 'Storing slug',
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

  constructor(deps: PipelineDeps, deployment: Deployment, signal: AbortSignal, releaseBuildSlot = () => {}) {
    this.deps = deps;
    this.#deployment = deployment;
    this.signal = signal;
    this.releaseBuildSlot = releaseBuildSlot;
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
  }

  async update(patch: Parameters<PipelineDeps['store']['deployments']['update']>[1]) {
    this.#deployment = await this.deps.store.deployments.update(this.id, patch);
  }

  throwIfAborted(): void {
    if (this.signal.aborted) {
      throw new SlipwayError('deploy.aborted', `deployment aborted: ${String(this.signal.reason ?? 'cancelled')}`);
    }
  }

  /** Runs one step: recorded in the store, announced with a header, timed. */
  async step<T>(name: Step, fn: () => Promise<T>): Promise<T> {
    this.throwIfAborted();
    const store = this.deps.store.deployments;
    await store.startStep(this.id, name, new Date().toISOString());
    const status = STATUS_OF_STEP[name];
    if (status !== this.#deployment.status && status !== 'success') await this.setStatus(status, { step: name });
    else this.#deployment = { ...this.#deployment, step: name }; // as startStep recorded it
    this.log(`-----> ${STEP_TITLES[name]}`);
    await chaosPause(this.deps, name);
    const started = performance.now();
    try {
      return await fn();
    } finally {
      await store.finishStep(this.id, name, new Date().toISOString());
      this.log(`       ${name} took ${formatMs(performance.now() - started)}`);
    }
  }
}

/** Chaos testing only (SLIPWAY_CHAOS_PAUSE): waits on entering the configured step. */
export async function chaosPause(deps: PipelineDeps, step: Step): Promise<void> {
  const pause = deps.settings.chaosPause;
  if (pause?.step === step) await new Promise((resolve) => setTimeout(resolve, pause.ms));
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}
