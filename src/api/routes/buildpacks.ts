// /api/apps/:app/buildpacks: the buildpacks the app's builds run, in order
// (empty: the build picks them, docs/buildpacks.md); /api/apps/:app/build-cache:
// emptied on DELETE.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../api-context.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };

const putBody = z.object({ buildpacks: z.array(z.string()) });

export function buildpackRoutes(api: FastifyInstance, { pipeline, store }: ApiContext): void {
  api.get<AppParams>('/api/apps/:app/buildpacks', async (request) => {
    const app = await store.apps.require(request.params.app);
    return { buildpacks: app.buildpacks };
  });

  api.put<AppParams>('/api/apps/:app/buildpacks', async (request) => {
    const { buildpacks } = parseBody(putBody, request.body);
    return { buildpacks: await pipeline.setBuildpacks(request.params.app, buildpacks) };
  });

  api.delete<AppParams>('/api/apps/:app/build-cache', async (request, reply) => {
    await pipeline.clearBuildCache(request.params.app);
    reply.code(204);
  });
}
