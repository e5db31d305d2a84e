// /api/apps/:app/addons: add-ons (docs/addons.md). Creating one sets its URL
// as a config var, which restarts a running app (the answer's deployment);
// deleting one removes its data, its role and the config var.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Addon, AddonChange } from '../../addons/addon-operations.ts';
import type { ApiContext } from '../api-context.ts';
import { deploymentJson } from '../serialize.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };
type AddonParams = { Params: { app: string; name: string } };

const createBody = z.object({ provider: z.string(), as: z.string().nullable().optional() });

export function addonJson(addon: Addon) {
  return {
    name: addon.name,
    provider: addon.provider,
    config_var: addon.configVar,
    resource: addon.resource,
    created_at: addon.createdAt,
  };
}

function changeJson(change: AddonChange) {
  return {
    addon: addonJson(change.addon),
    deployment: change.deployment ? deploymentJson(change.deployment) : null,
    ms: change.ms,
  };
}

export function addonRoutes(api: FastifyInstance, { addons }: ApiContext): void {
  api.get<AppParams>('/api/apps/:app/addons', async (request) =>
    (await addons.list(request.params.app)).map(addonJson),
  );

  api.post<AppParams>('/api/apps/:app/addons', async (request, reply) => {
    const body = parseBody(createBody, request.body);
    const change = await addons.create(request.params.app, body.provider, body.as ?? null, request.author);
    reply.code(201);
    return changeJson(change);
  });

  api.get<AddonParams>('/api/apps/:app/addons/:name', async (request) => {
    const { addon, details } = await addons.info(request.params.app, request.params.name);
    return { ...addonJson(addon), ...details };
  });

  // pg:info: every PostgreSQL database of the app, or the one named (?name=DATABASE).
  api.get<AppParams & { Querystring: { name?: string } }>('/api/apps/:app/databases', async (request) =>
    (await addons.databases(request.params.app, request.query.name)).map(({ addon, details }) => ({
      ...addonJson(addon),
      ...details,
    })),
  );

  api.delete<AddonParams>('/api/apps/:app/addons/:name', async (request) =>
    changeJson(await addons.destroy(request.params.app, request.params.name, request.author)),
  );
}
