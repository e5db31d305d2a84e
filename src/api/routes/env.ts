// /api/apps/:app/env: config vars. GET answers the config the app runs with
// (its live release's; before any went live, the stored one its first
// deployment uses); GET .../env/state adds the stored change that is not live
// yet, and why. A change creates a release and restarts the app (start →
// switch → retire, no hook).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ConfigStateJson } from '../../core/api-json.ts';
import { releaseName } from '../../core/types.ts';
import type { ApiContext } from '../api-context.ts';
import { deploymentJson } from '../serialize.ts';
import { parseBody } from '../validate.ts';

const patchBody = z.record(z.string(), z.string().nullable());

export function envRoutes(api: FastifyInstance, { pipeline }: ApiContext): void {
  api.get<{ Params: { app: string } }>(
    '/api/apps/:app/env',
    async (request) => (await pipeline.config(request.params.app)).vars,
  );

  api.get<{ Params: { app: string } }>('/api/apps/:app/env/state', async (request): Promise<ConfigStateJson> => {
    const state = await pipeline.config(request.params.app);
    return {
      status: state.status,
      release: state.liveRelease === null ? null : releaseName(state.liveRelease),
      env: state.vars,
      unapplied: state.unapplied,
      deployment: state.deployment ? deploymentJson(state.deployment) : null,
    };
  });

  api.patch<{ Params: { app: string } }>('/api/apps/:app/env', async (request) => {
    const changes = parseBody(patchBody, request.body);
    const { config, deployment } = await pipeline.updateConfig(request.params.app, changes, request.author);
    return { env: config, deployment: deployment ? deploymentJson(deployment) : null };
  });
}
