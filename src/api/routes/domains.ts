// /api/apps/:app/domains: custom hostnames the router serves the app on,
// besides `<app>.<domain>`.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../api-context.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };

export function domainRoutes(api: FastifyInstance, { pipeline, certs }: ApiContext): void {
  const list = async (app: string) => (await pipeline.domains(app)).map((hostname) => ({ hostname }));

  api.get<AppParams>('/api/apps/:app/domains', (request) => list(request.params.app));

  api.post<AppParams>('/api/apps/:app/domains', async (request, reply) => {
    const { hostname } = parseBody(z.object({ hostname: z.string() }), request.body);
    const added = await pipeline.addDomain(request.params.app, hostname);
    await certs.refresh(); // served by a certificate that covers it, or one is ordered
    reply.code(201);
    return { hostname: added };
  });

  api.delete<{ Params: { app: string; hostname: string } }>(
    '/api/apps/:app/domains/:hostname',
    async (request, reply) => {
      await pipeline.removeDomain(request.params.app, request.params.hostname);
      await certs.sync();
      reply.code(204);
    },
  );
}
