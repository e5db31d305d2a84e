// Deny by default (DESIGN §4): who may call a route is decided on the route
// that matched, by its `config.access`, never on the raw URL. Fastify matches
// the decoded, origin-form path (`/%61pi/apps`, `/api/./apps` and an
// absolute-form target all reach `/api/apps`), so whatever the spelling, the
// handler that would run is the one whose access is checked. A route that
// says nothing needs the API token; `public` is written where it is meant.

import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

/**
 * - `public`: anyone (`/healthz`, the badge, sign-in, `/hooks/github` with its own HMAC check).
 * - `token`: `Authorization: Bearer <API token>` (the default).
 * - `git`: HTTP basic auth with the API token as password (git smart HTTP).
 * - `session`: a dashboard session cookie, and its CSRF token on every form post.
 */
const ACCESS_KINDS = ['public', 'token', 'git', 'session'] as const;
export type Access = (typeof ACCESS_KINDS)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** Name of the API token behind the request (null on public routes). */
    author: string | null;
  }
}

/** One way to prove who calls: it returns when the caller may go on, else it throws or answers. */
export interface AccessCheck {
  /** Before the body is read. */
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  /** After the body is parsed (a form's CSRF token); skipped once a reply was sent. */
  preHandler?(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export type AccessChecks = Record<Exclude<Access, 'public'>, AccessCheck>;

export interface RouteAccess {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly access: Access;
}

const accessOf = (request: FastifyRequest): Access => request.routeOptions.config?.access ?? 'token';

/**
 * Installs the gate on the root instance (so it runs for every route of every
 * plugin) and returns the table of registered routes with their access, the
 * list the route-enumeration test walks.
 */
export function installAccessGate(api: FastifyInstance, checks: AccessChecks): () => readonly RouteAccess[] {
  const routes: { method: HTTPMethods | HTTPMethods[]; url: string; config?: { access?: Access } }[] = [];
  api.decorateRequest('author', null);
  api.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access !== undefined && !ACCESS_KINDS.includes(access)) {
      throw new Error(`route ${route.url} declares an unknown access ${JSON.stringify(access)}`);
    }
    routes.push(route); // read later: a scope's own onRoute hook may still set its access
  });
  api.addHook('onRequest', async (request, reply) => {
    if (request.is404) return; // no route matched: the not-found handler answers, nothing runs
    const access = accessOf(request);
    if (access !== 'public') await checks[access].onRequest(request, reply);
  });
  api.addHook('preHandler', async (request, reply) => {
    if (request.is404 || reply.sent) return;
    const access = accessOf(request);
    if (access !== 'public') await checks[access].preHandler?.(request, reply);
  });
  return () =>
    routes.flatMap((route) =>
      (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({
        method,
        url: route.url,
        access: route.config?.access ?? 'token',
      })),
    );
}
