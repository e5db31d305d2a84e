// The manager's side of a home's services, as the swarm driver reads and
// changes them: which services carry the home's label (and which of those a
// new start takes over), what port a service's container was given, scaling
// one to zero, removing one.

import type { Engine } from '../docker/engine.ts';
import { foundOf } from '../found-container.ts';
import type { ContainerHandle, ContainerSpec, FoundContainer } from '../types.ts';
import { runsOnce } from './service-spec.ts';
import { serviceTasks } from './swarm-tasks.ts';

export interface HomeService {
  readonly ID: string;
  readonly Spec: {
    readonly Name: string;
    readonly Labels: Record<string, string>;
    readonly TaskTemplate: { readonly ContainerSpec: { readonly Env?: string[] } };
  };
}

/** The services labelled with the home's key. */
export function ownServices(engine: Engine, key: string): Promise<HomeService[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.home=${key}`] }));
  return engine.request<HomeService[]>('GET', `/services?filters=${filters}`);
}

/** The PORT its container was given, if any (a web container's). */
export function servicePort(service: HomeService): number | undefined {
  const found = service.Spec.TaskTemplate.ContainerSpec.Env?.find((e) => e.startsWith('PORT='));
  return found === undefined ? undefined : Number(found.slice('PORT='.length));
}

/** Removes a service; one already gone is not an error. */
export function removeService(engine: Engine, name: string): Promise<unknown> {
  return engine.request('DELETE', `/services/${name}`).catch((err: unknown) => {
    if (!/not found|no such service/i.test((err as Error).message)) throw err;
  });
}

/** No task from now on: a service's task is then never replaced. */
export async function scaleToZero(engine: Engine, name: string): Promise<void> {
  const service = await engine.request<{ Version: { Index: number }; Spec: { Mode: unknown } }>(
    'GET',
    `/services/${name}`,
  );
  await engine.request('POST', `/services/${name}/update?version=${service.Version.Index}`, {
    ...service.Spec,
    Mode: { Replicated: { Replicas: 0 } },
  });
}

/**
 * The home's services that `choose` accepts and whose task runs now (one failing is left to
 * the sweep, to be started again), each handed to `take`; a job is never taken over.
 */
export async function adoptServices(
  engine: Engine,
  key: string,
  choose: (found: FoundContainer) => ContainerSpec['onLine'] | null,
  take: (found: FoundContainer, service: HomeService, onLine: ContainerSpec['onLine']) => Promise<ContainerHandle>,
): Promise<{ adopted: ContainerHandle[]; failed: { found: FoundContainer; err: unknown }[] }> {
  const adopted: ContainerHandle[] = [];
  const failed: { found: FoundContainer; err: unknown }[] = [];
  await Promise.all(
    (await ownServices(engine, key)).map(async (service) => {
      const found = foundOf(service.Spec.Labels);
      const onLine = found === null || runsOnce(found.name) ? null : choose(found);
      if (found === null || onLine === null) return;
      try {
        const tasks = await serviceTasks(engine, service.ID);
        if (tasks?.some((t) => t.Status.State === 'running')) adopted.push(await take(found, service, onLine));
      } catch (err) {
        failed.push({ found, err });
      }
    }),
  );
  return { adopted, failed };
}
