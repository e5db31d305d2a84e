// The containers that run now, per app, with their handles. The store keeps
// their records; this in-memory view holds what only a live process has.

import type { ContainerHandle } from '../runtime/types.ts';

export interface LiveContainer {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly releaseVersion: number;
  readonly handle: ContainerHandle;
  readonly startedAt: string;
}

export class LiveContainers {
  readonly #byApp = new Map<string, readonly LiveContainer[]>();

  get(app: string): readonly LiveContainer[] {
    return this.#byApp.get(app) ?? [];
  }

  set(app: string, containers: readonly LiveContainer[]): void {
    if (containers.length === 0) this.#byApp.delete(app);
    else this.#byApp.set(app, containers);
  }

  apps(): string[] {
    return [...this.#byApp.keys()];
  }
}

export function webBackends(containers: readonly LiveContainer[]) {
  return containers
    .filter((c) => c.type === 'web' && c.handle.address)
    .map((c) => ({ id: c.id, host: c.handle.address?.host ?? '127.0.0.1', port: c.handle.address?.port ?? 0 }));
}
