// /api/apps/:app/env: config vars. A change creates a release and restarts
// the app (start → switch → retire, no hook).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../api-context.ts';
import { deploymentJson } from '../serialize.ts';
import { parseBody } from '../validate.ts';

const patchBody = z.record(z.string(), z.string().nullable());

export function envRoutes(api: FastifyInstance, { pipeline }: ApiContext): void {
  api.get<{ Params: { app: string } }>('/api/apps/:app/env', async (request) => pipeline.config(request.params.app));

  api.patch<{ Params: { app: string } }>('/api/apps/:app/env', async (request) => {
    const changes = parseBody(patchBody, request.body);
    const { config, deployment } = await pipeline.updateConfig(request.params.app, changes, request.author);
    return { env: config, deployment: deployment ? deploymentJson(deployment) : null };
  });
}
