// Per-app FIFO of deployments: the queue itself is the store (status
// `queued`), so it survives a restart; this module only makes sure that one
// deployment per app runs at a time and that the next one starts when it ends.

import type { AppLocks } from './app-lock.ts';
import { BuildSlots } from './build-slots.ts';
import { DeployContext } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';
import type { LiveContainers } from './live-containers.ts';
import { runDeployment } from './run-deployment.ts';

/** The longest a cancel waits for the deployment to end (every step stops within seconds of its abort). */
const CANCEL_WAIT_MS = 10_000;

export class DeployQueue {
  readonly #deps: PipelineDeps;
  readonly #live: LiveContainers;
  readonly #locks: AppLocks;
  /** App → the loop draining its queue. */
  readonly #running = new Map<string, Promise<void>>();
  /** App → its running deployment's id, abort controller, end (final status) and completion. */
  readonly #controllers = new Map<
    string,
    { id: string; controller: AbortController; ended: Promise<void>; done: Promise<void> }
  >();
  /** App → old containers still being retired after its deployments' successes. */
  readonly #retiring = new Map<string, Promise<void>>();
  /** Queued deployments being cancelled right now: the drain loop must not start them. */
  readonly #cancelling = new Map<string, Promise<unknown>>();
  #closed = false;
  readonly #closing = new AbortController();
  readonly #slots: BuildSlots;

  constructor(deps: PipelineDeps, live: LiveContainers, locks: AppLocks) {
    this.#deps = deps;
    this.#slots = new BuildSlots(deps.settings.maxConcurrentBuilds);
    this.#live = live;
    this.#locks = locks;
  }

  /** Starts the app's queue if it is idle. */
  kick(app: string): void {
    if (this.#closed || this.#running.has(app)) return;
    const loop = this.#drain(app).finally(() => {
      this.#running.delete(app);
    });
    this.#running.set(app, loop);
  }

  /** Resolves once the app's queue is idle and its old containers are retired. */
  async idle(app: string): Promise<void> {
    await this.#running.get(app);
    await this.#retiring.get(app);
  }

  /** Aborts the running deployment of an app (only deployment `id` when given). Returns whether one was running. */
  abort(app: string, reason: string, id?: string): boolean {
    const running = this.#controllers.get(app);
    if (!running || (id !== undefined && running.id !== id)) return false;
    running.controller.abort(reason);
    return true;
  }

  /**
   * Cancels deployment `id`: aborts it when it runs, else ends it while still
   * queued. The check and the claim happen in one synchronous turn, and the
   * drain loop skips a deployment being cancelled, so the two never race.
   * Returns once the deployment has its final status (its new containers may
   * still be stopping), or after CANCEL_WAIT_MS whatever its step does.
   */
  async cancel(app: string, id: string, reason: string): Promise<void> {
    if (!this.abort(app, reason, id)) {
      const error = { code: 'deploy.aborted', message: `deployment aborted while queued: ${reason}` };
      const pending = this.#deps.store.deployments.abortQueued(id, error, new Date().toISOString());
      this.#cancelling.set(id, pending);
      try {
        if (await pending) {
          this.#deps.logs.append(id, `=====> Deployment aborted while queued: ${reason}`);
          this.#deps.logs.finish(id);
        }
      } finally {
        this.#cancelling.delete(id);
      }
      return;
    }
    for (const running of this.#controllers.values()) {
      if (running.id !== id) continue;
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CANCEL_WAIT_MS);
      });
      await Promise.race([running.ended, running.done, waited]);
      clearTimeout(timer);
    }
  }

  async close(reason: string): Promise<void> {
    this.#closed = true;
    this.#closing.abort(reason);
    for (const { controller } of this.#controllers.values()) controller.abort(reason);
    await Promise.all(this.#running.values());
    await Promise.all(this.#retiring.values());
  }

  /** Tracks a success's retiring until it is done; the app's next deployment runs meanwhile. */
  #track(app: string, id: string, retiring: Promise<void>): void {
    const logged = retiring.catch((err: unknown) => {
      this.#deps.logger.error({ err, app, deployment: id }, 'retiring old containers failed');
    });
    const all = Promise.all([this.#retiring.get(app), logged]).then(() => {
      if (this.#retiring.get(app) === all) this.#retiring.delete(app);
    });
    this.#retiring.set(app, all);
  }

  async #drain(app: string): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const next = await this.#deps.store.deployments.nextQueued(app);
      if (!next) return;
      // A build waits for a build slot while still `queued` (and cancellable as such).
      let releaseSlot = () => {};
      if (next.kind === 'build') {
        const slot = await this.#slots.acquire(this.#closing.signal);
        if (!slot) return;
        releaseSlot = slot;
        if ((await this.#deps.store.deployments.get(next.id))?.status !== 'queued') {
          releaseSlot();
          continue;
        }
      }
      // From this check to the runner's registration below there is no await:
      // a cancel either sees the runner registered, or the runner sees the cancel.
      const cancelling = this.#cancelling.get(next.id);
      if (cancelling) {
        releaseSlot();
        await cancelling.catch(() => {});
        continue;
      }
      const controller = new AbortController();
      const ctx = new DeployContext(this.#deps, next, controller.signal, releaseSlot);
      const done = runDeployment(ctx, this.#live, this.#locks);
      this.#controllers.set(app, {
        id: next.id,
        controller,
        ended: ctx.ended,
        done: done.then(() => {}).catch(() => {}),
      });
      try {
        this.#track(app, next.id, (await done).retiring);
      } catch (err) {
        // runDeployment records its own failures; reaching here means the store itself failed.
        this.#deps.logger.error({ err, app, deployment: next.id }, 'deployment runner failed');
        return;
      } finally {
        releaseSlot();
        this.#controllers.delete(app);
      }
    }
  }
}
