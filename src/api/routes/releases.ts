// /api/apps/:app/releases: the release history, newest first.

import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-context.ts';
import { releaseJson } from '../serialize.ts';

export function releaseRoutes(api: FastifyInstance, { store }: ApiContext): void {
  api.get<{ Params: { app: string } }>('/api/apps/:app/releases', async (request) => {
    const app = await store.apps.require(request.params.app);
    return (await store.releases.list(app.name)).map((r) => releaseJson(r, app.currentRelease));
  });
}
