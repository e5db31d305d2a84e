// /api/apps/:app/deployments: upload a .tar.gz to deploy, list, show, and read
// or follow (SSE) a deployment's log.

import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { COMMIT_SHA } from '../../core/commit-sha.ts';
import { SlipwayError } from '../../core/errors.ts';
import { isFinal } from '../../core/lifecycle.ts';
import { deployFromUrl, isUrlRequest } from '../../intake/deploy-from-url.ts';
import { deploySource } from '../../intake/deploy-source.ts';
import type { ApiContext } from '../api-context.ts';
import { receiveUpload } from '../receive-upload.ts';
import { deploymentJson } from '../serialize.ts';
import { openSse } from '../sse.ts';

type AppParams = { Params: { app: string } };
type DeploymentParams = { Params: { app: string; id: string } };

const ARCHIVE_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip', 'application/octet-stream'];
const REF = /^[A-Za-z0-9._/-]{1,200}$/;

export function deploymentRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { pipeline, store, logs } = ctx;
  api.addContentTypeParser(ARCHIVE_TYPES, (_request, payload, done) => done(null, payload));

  const requireDeployment = async (app: string, id: string) => {
    await store.apps.require(app);
    const d = await store.deployments.get(id);
    if (!d || d.app !== app)
      throw new SlipwayError('deployment.not_found', `deployment ${id} not found for app ${app}`);
    return d;
  };

  api.post<AppParams & { Querystring: { commit_sha?: string; git_ref?: string } }>(
    '/api/apps/:app/deployments',
    async (request, reply) => {
      await store.apps.require(request.params.app);
      const length = request.headers['content-length'];
      // Before a byte of the upload (or download) is written.
      ctx.disk.check('the deployment', length ? Number(length) || 0 : 0);
      if (isUrlRequest(request.body)) {
        reply.code(201);
        return deploymentJson(await deployFromUrl(ctx.intake, request.params.app, request.body, request.author));
      }
      const body = request.body as Readable | undefined;
      if (!body || typeof (body as Readable).pipe !== 'function') {
        throw new SlipwayError(
          'request.invalid',
          'send the app as a .tar.gz body with Content-Type: application/gzip, or JSON {"source_url": ...}',
        );
      }
      const { commit_sha: sha, git_ref: ref } = request.query;
      if (sha !== undefined && !COMMIT_SHA.test(sha))
        throw new SlipwayError('request.invalid', 'commit_sha must be a hex commit id, optionally followed by -dirty');
      if (ref !== undefined && !REF.test(ref))
        throw new SlipwayError('request.invalid', 'git_ref has invalid characters');
      const upload = await receiveUpload(body, ctx.spoolDir, ctx.maxUploadBytes, length ? Number(length) : undefined);
      const deployment = await deploySource(
        ctx.intake,
        request.params.app,
        { file: upload.file, bytes: upload.bytes, summary: null },
        { source: 'upload', commitSha: sha?.toLowerCase() ?? null, gitRef: ref ?? null, author: request.author },
      );
      reply.code(201);
      return deploymentJson(deployment);
    },
  );

  api.get<AppParams>('/api/apps/:app/deployments', async (request) => {
    await store.apps.require(request.params.app);
    return (await store.deployments.list(request.params.app)).map(deploymentJson);
  });

  api.post<DeploymentParams>('/api/apps/:app/deployments/:id/cancel', async (request) => {
    await requireDeployment(request.params.app, request.params.id);
    return deploymentJson(await pipeline.cancelDeployment(request.params.app, request.params.id, request.author));
  });

  api.get<DeploymentParams>('/api/apps/:app/deployments/:id', async (request) =>
    deploymentJson(await requireDeployment(request.params.app, request.params.id)),
  );

  api.get<DeploymentParams>('/api/apps/:app/deployments/:id/logs', async (request, reply) => {
    const { id } = (await requireDeployment(request.params.app, request.params.id)) ?? {};
    if (!request.headers.accept?.includes('text/event-stream')) {
      reply.type('text/plain; charset=utf-8');
      const lines = logs.read(id);
      return lines.length ? `${lines.join('\n')}\n` : '';
    }
    const sse = openSse(reply);
    let ended = false;
    const end = async () => {
      if (ended) return;
      ended = true;
      const final = await store.deployments.get(id);
      if (final) sse.send(JSON.stringify(deploymentJson(final)), 'end');
      sse.end();
    };
    const stop = logs.follow(
      id,
      (line) => sse.send(line),
      () => void end(),
    );
    sse.closed.then(stop);
    const now = await store.deployments.get(id);
    if (now && isFinal(now.status) && !logs.isOpen(id)) await end();
  });
}
