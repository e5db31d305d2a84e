// /api/apps/:app/releases, rollback and redeploy. Rollback and redeploy
// answer 201 with the queued deployment, which the client can follow.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../api-context.ts';
import { deploymentJson, releaseJson } from '../serialize.ts';
import { parseBody, parseVersion, releaseVersionField } from '../validate.ts';

type AppParams = { Params: { app: string } };

const rollbackBody = z.object({
  version: releaseVersionField,
  hook: z.boolean().default(true),
  /** Keep the app's current config instead of the release's own. */
  keep_config: z.boolean().default(false),
  /** Allow a release that never went live. */
  force: z.boolean().default(false),
});

export function releaseRoutes(api: FastifyInstance, { pipeline, store }: ApiContext): void {
  api.get<AppParams>('/api/apps/:app/releases', async (request) => {
    const app = await store.apps.require(request.params.app);
    return (await store.releases.list(app.name)).map((r) => releaseJson(r, app.currentRelease));
  });

  api.post<AppParams>('/api/apps/:app/rollback', async (request, reply) => {
    const body = parseBody(rollbackBody, request.body);
    const deployment = await pipeline.rollback(
      request.params.app,
      parseVersion(body.version),
      { runHook: body.hook, keepConfig: body.keep_config, force: body.force },
      request.author,
    );
    reply.code(201);
    return deploymentJson(deployment);
  });

  api.post<AppParams>('/api/apps/:app/redeploy', async (request, reply) => {
    const deployment = await pipeline.redeploy(request.params.app, request.author);
    reply.code(201);
    return deploymentJson(deployment);
  });
}
