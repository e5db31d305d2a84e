// The HTTP API (DESIGN §3): fastify with thin route modules, every route behind
// the access gate (api/access-gate.ts), and one error handler that turns every failure into
// `{ error: { code, message } }` with the status of api/error-status.ts.

import type { ServerOptions } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { isSlipwayError } from '../core/errors.ts';
import { type AccessCheck, installAccessGate, type RouteAccess } from './access-gate.ts';
import type { ApiContext } from './api-context.ts';
import { gitCheck, tokenCheck } from './auth.ts';
import type { AuthFailures } from './auth-failures.ts';
import { httpStatusOf } from './error-status.ts';
import { addonRoutes } from './routes/addons.ts';
import { appRoutes } from './routes/apps.ts';
import { backupRoutes } from './routes/backups.ts';
import { buildpackRoutes } from './routes/buildpacks.ts';
import { certRoutes } from './routes/certs.ts';
import { deploymentRoutes } from './routes/deployments.ts';
import { domainRoutes } from './routes/domains.ts';
import { envRoutes } from './routes/env.ts';
import { gitRoutes } from './routes/git.ts';
import { githubRoutes } from './routes/github.ts';
import { logRoutes } from './routes/logs.ts';
import { processRoutes } from './routes/processes.ts';
import { releaseRoutes } from './routes/releases.ts';
import { runRoutes } from './routes/run.ts';
import { volumeRoutes } from './routes/volumes.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route with the access it requires (api/access-gate.ts). */
    routeAccess(): readonly RouteAccess[];
  }
}

export interface ApiOptions {
  /** Options of the node:http server (the header deadline). */
  readonly http?: ServerOptions;
  /** TLS options: the API and dashboard over HTTPS (docs/https.md); absent: plain HTTP. */
  readonly https?: HttpsServerOptions;
  /** One budget of failed authentications per client, whichever way it tries (API, git, sign-in). */
  readonly failures: AuthFailures;
  /** The dashboard's check (web/session-access.ts): the routes it guards are registered by web/. */
  readonly session: AccessCheck;
}

export function buildApi(ctx: ApiContext, options: ApiOptions): FastifyInstance {
  const { failures } = options;
  const server =
    options.https === undefined ? { http: options.http ?? {} } : { https: { ...options.http, ...options.https } };
  // (One type for both: the routes and the tests see a FastifyInstance whichever server it runs on.)
  const api = Fastify({
    ...(server as { http: ServerOptions }),
    loggerInstance: ctx.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024, // JSON bodies; archives are streamed with their own cap
    forceCloseConnections: true,
  });

  const routeAccess = installAccessGate(api, {
    token: tokenCheck(ctx.store, failures),
    git: gitCheck(ctx.store, failures),
    session: options.session,
  });
  api.decorate('routeAccess', routeAccess);

  api.setErrorHandler((err: FastifyError, request, reply) => {
    if (isSlipwayError(err)) {
      if (typeof err.details?.retryAfter === 'number') reply.header('retry-after', String(err.details.retryAfter));
      return reply.code(httpStatusOf(err.code)).send({ error: { code: err.code, message: err.message } });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: { code: 'request.too_large', message: 'request body too large' } });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: { code: 'request.invalid', message: err.message } });
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error (see the server log)' } });
  });

  api.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'request.not_found', message: `no such endpoint: ${request.method} ${request.url}` } }),
  );

  api.get('/healthz', { config: { access: 'public' } }, async () => ({ status: 'ok' }));
  appRoutes(api, ctx);
  envRoutes(api, ctx);
  addonRoutes(api, ctx);
  volumeRoutes(api, ctx);
  backupRoutes(api, ctx);
  deploymentRoutes(api, ctx);
  releaseRoutes(api, ctx);
  processRoutes(api, ctx);
  domainRoutes(api, ctx);
  certRoutes(api, ctx);
  buildpackRoutes(api, ctx);
  logRoutes(api, ctx);
  runRoutes(api, ctx);
  gitRoutes(api, ctx);
  githubRoutes(api, ctx);
  return api;
}
