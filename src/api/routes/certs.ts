// /api/apps/:app/certs: the app's certificates (docs/https.md): list with
// state, add an own certificate, remove one, turn ACME certificates on or off.
// /api/server/certificate: the API and dashboard's own (or none).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CertView } from '../../certs/cert-service.ts';
import type { ApiCertJson, CertJson, CertsJson } from '../../core/api-json.ts';
import type { ApiContext } from '../api-context.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };

const addBody = z.object({
  cert: z.string().max(256 * 1024),
  key: z.string().max(64 * 1024),
  domain: z.string().max(253).optional(),
});

export function certJson(view: CertView): CertJson {
  return {
    id: view.id,
    source: view.source,
    status: view.status,
    served_for: [...view.servedFor],
    names: view.names === undefined ? null : [...view.names],
    issuer: view.issuer ?? null,
    not_before: view.notBefore ?? null,
    not_after: view.notAfter ?? null,
    fingerprint: view.fingerprint ?? null,
    last_error: view.lastError,
    next_attempt_at: view.nextAttemptAt,
  };
}

export function certRoutes(api: FastifyInstance, { certs }: ApiContext): void {
  const list = async (app: string): Promise<CertsJson> => {
    const { auto, certificates } = await certs.list(app);
    return { auto, certificates: certificates.map(certJson) };
  };

  api.get<AppParams>('/api/apps/:app/certs', (request) => list(request.params.app));

  api.get('/api/server/certificate', async (): Promise<ApiCertJson> => {
    const { tls, certificate } = certs.apiView();
    return { tls, certificate: certificate === null ? null : certJson(certificate) };
  });

  api.post<AppParams>('/api/apps/:app/certs', async (request, reply) => {
    const body = parseBody(addBody, request.body);
    const added = await certs.addOwn(request.params.app, body.cert, body.key, body.domain);
    reply.code(201);
    return certJson(added);
  });

  api.patch<AppParams>('/api/apps/:app/certs', async (request) => {
    const { auto } = parseBody(z.object({ auto: z.boolean() }), request.body);
    await certs.setAuto(request.params.app, auto);
    return list(request.params.app);
  });

  api.delete<{ Params: { app: string; id: string } }>('/api/apps/:app/certs/:id', async (request, reply) => {
    await certs.remove(request.params.app, request.params.id);
    reply.code(204);
  });
}
