// The containers that run now, per app, with their handles. The store keeps
// their records; this in-memory view holds what only a live process has.
//
// Invariant: a container leaves this set *before* Slipway stops it. So when
// a member's process ends, nobody asked for it: the exit listener (the crash
// supervisor) is told, and the dead member keeps its slot until replaced.

import type { ContainerExit, ContainerHandle } from '../runtime/types.ts';

export interface LiveContainer {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly index: number;
  readonly releaseVersion: number;
  readonly handle: ContainerHandle;
  readonly startedAt: string;
  readonly restarts: number;
  /** Its last lines of output (at most OUTPUT_TAIL_LINES), to say why it ended. */
  readonly recentOutput: readonly string[];
}

export const OUTPUT_TAIL_LINES = 30;

export type ExitListener = (app: string, container: LiveContainer, exit: ContainerExit) => void;

export class LiveContainers {
  readonly #byApp = new Map<string, readonly LiveContainer[]>();
  readonly #watched = new WeakSet<ContainerHandle>();
  readonly #dead = new Set<string>();
  #onExit: ExitListener = () => {};
  #onMoved: (app: string) => void = () => {};

  /** Called when a member exits without being asked to. */
  onUnexpectedExit(listener: ExitListener): void {
    this.#onExit = listener;
  }

  /** Called when a member's address changes (a Swarm task rescheduled on another node). */
  onMoved(listener: (app: string) => void): void {
    this.#onMoved = listener;
  }

  get(app: string): readonly LiveContainer[] {
    return this.#byApp.get(app) ?? [];
  }

  has(app: string, id: string): boolean {
    return this.get(app).some((c) => c.id === id);
  }

  /** Members whose process still runs: what the router may send requests to. */
  running(app: string): readonly LiveContainer[] {
    return this.get(app).filter((c) => !this.#dead.has(c.id));
  }

  set(app: string, containers: readonly LiveContainer[]): void {
    for (const c of this.get(app)) if (!containers.includes(c)) this.#dead.delete(c.id);
    const sorted = [...containers].sort((a, b) => a.type.localeCompare(b.type) || a.index - b.index);
    if (sorted.length === 0) this.#byApp.delete(app);
    else this.#byApp.set(app, sorted);
    for (const c of sorted) this.#watch(app, c);
  }

  /** Swaps one member for another (a restart), keeping the others. */
  replace(app: string, id: string, fresh: LiveContainer): void {
    this.set(app, [...this.get(app).filter((c) => c.id !== id), fresh]);
  }

  apps(): string[] {
    return [...this.#byApp.keys()];
  }

  #watch(app: string, c: LiveContainer): void {
    if (this.#watched.has(c.handle)) return;
    this.#watched.add(c.handle);
    c.handle.onMoved?.(() => {
      if (this.has(app, c.id)) this.#onMoved(app);
    });
    c.handle.exited.then((exit) => {
      if (!this.has(app, c.id)) return;
      this.#dead.add(c.id);
      this.#onExit(app, c, exit);
    });
  }
}

export function webBackends(containers: readonly LiveContainer[]) {
  return containers
    .filter((c) => c.type === 'web' && c.handle.address)
    .map((c) => ({ id: c.id, host: c.handle.address?.host ?? '127.0.0.1', port: c.handle.address?.port ?? 0 }));
}
