// Per-app FIFO of deployments: the queue itself is the store (status
// `queued`), so it survives a restart; this module only makes sure that one
// deployment per app runs at a time and that the next one starts when it ends.

import { DeployContext } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';
import type { LiveContainers } from './live-containers.ts';
import { runDeployment } from './run-deployment.ts';

export class DeployQueue {
  readonly #deps: PipelineDeps;
  readonly #live: LiveContainers;
  /** App → the loop draining its queue. */
  readonly #running = new Map<string, Promise<void>>();
  readonly #controllers = new Map<string, AbortController>();
  #closed = false;

  constructor(deps: PipelineDeps, live: LiveContainers) {
    this.#deps = deps;
    this.#live = live;
  }

  /** Starts the app's queue if it is idle. */
  kick(app: string): void {
    if (this.#closed || this.#running.has(app)) return;
    const loop = this.#drain(app).finally(() => {
      this.#running.delete(app);
    });
    this.#running.set(app, loop);
  }

  /** Resolves once the app's queue is idle. */
  async idle(app: string): Promise<void> {
    await this.#running.get(app);
  }

  /** Aborts the running deployment of an app (if any), e.g. when it is destroyed. */
  abort(app: string, reason: string): void {
    this.#controllers.get(app)?.abort(reason);
  }

  async close(reason: string): Promise<void> {
    this.#closed = true;
    for (const controller of this.#controllers.values()) controller.abort(reason);
    await Promise.all(this.#running.values());
  }

  async #drain(app: string): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const next = await this.#deps.store.deployments.nextQueued(app);
      if (!next) return;
      const controller = new AbortController();
      this.#controllers.set(app, controller);
      try {
        await runDeployment(new DeployContext(this.#deps, next, controller.signal), this.#live);
      } catch (err) {
        // runDeployment records its own failures; reaching here means the store itself failed.
        this.#deps.logger.error({ err, app, deployment: next.id }, 'deployment runner failed');
        return;
      } finally {
        this.#controllers.delete(app);
      }
    }
  }
}
