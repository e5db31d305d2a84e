// /api/apps/:app/formation and /restart: scale process types and restart
// containers of the current release (GET /containers lives with the apps).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { releaseName } from '../../core/types.ts';
import type { ApiContext } from '../api-context.ts';
import { containerJson } from '../serialize.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };

const restartBody = z.object({ type: z.string().min(1).optional() }).default({});

export function processRoutes(api: FastifyInstance, { pipeline, store }: ApiContext): void {
  const containers = async (app: string) => {
    const nodes = pipeline.nodes(app);
    return (await store.containers.list(app)).map((c) => containerJson(c, nodes));
  };

  api.get<AppParams>('/api/apps/:app/formation', async (request) => {
    await store.apps.require(request.params.app);
    return store.formation.get(request.params.app);
  });

  api.patch<AppParams>('/api/apps/:app/formation', async (request) => {
    const body = parseBody(z.record(z.string(), z.unknown()), request.body ?? {});
    const formation = await pipeline.scale(request.params.app, body);
    // `release` null: nothing runs yet; the formation applies from the first deployment.
    const release = (await store.apps.require(request.params.app)).currentRelease;
    return {
      formation,
      release: release === null ? null : releaseName(release),
      containers: await containers(request.params.app),
    };
  });

  api.post<AppParams>('/api/apps/:app/restart', async (request) => {
    const { type } = parseBody(restartBody, request.body ?? {});
    const restarted = await pipeline.restart(request.params.app, type);
    return { restarted, containers: await containers(request.params.app) };
  });
}
