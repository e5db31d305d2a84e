// The manager's side of a home's services, as the swarm driver reads and
// changes them: which services carry the home's label, what port a service's
// container was given, scaling one to zero, removing one.

import type { Engine } from '../docker/engine.ts';

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
