// The dashboard and the deploy button (server-rendered HTML): one fastify
// plugin with its own form parser, session check and HTML error page. Pages
// use the same ApiContext as the API routes.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/api-context.ts';
import { authenticate } from '../api/auth.ts';
import { AuthFailures } from '../api/auth-failures.ts';
import { httpStatusOf } from '../api/error-status.ts';
import { isSlipwayError } from '../core/errors.ts';
import { appPages } from './app-pages.ts';
import { deployButton } from './deploy-button.ts';
import { errorBox, html, page } from './html.ts';
import type { Form } from './send-page.ts';
import { createSessions, csrfMatches, type Session, type Sessions, sessionCookie } from './sessions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session (set on every web route but the public ones). */
    session: Session | null;
  }
}

/** Paths anyone may GET (the sign-in form, the badge). */
const PUBLIC = new Set(['/sign-in', '/button.svg']);
const WEB_PREFIXES = ['/apps', '/deploy', '/sign-in', '/sign-out', '/button.svg'];

export function webRoutes(api: FastifyInstance, ctx: ApiContext, sessions: Sessions = createSessions()): void {
  api.register(async (web) => {
    web.decorateRequest('session', null);
    web.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 256 * 1024 },
      (_r, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    web.addHook('onRequest', async (request, reply) => {
      const route = request.url.split('?')[0] ?? '';
      if (!WEB_PREFIXES.some((p) => route === p || route.startsWith(`${p}/`)) && route !== '/') return;
      request.session = sessions.get(request.headers.cookie);
      if (PUBLIC.has(route)) return;
      if (!request.session) {
        if (request.method === 'GET') return reply.redirect(`/sign-in?next=${encodeURIComponent(request.url)}`, 303);
        return reply
          .code(403)
          .type('text/html')
          .send(page('Refused', errorBox('Sign in first.')));
      }
    });
    web.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST' || !request.session || request.url === '/sign-in') return;
      if (!csrfMatches(request.session, (request.body as Form | undefined)?.csrf)) {
        return reply
          .code(403)
          .type('text/html')
          .send(page('Refused', errorBox('Missing or wrong CSRF token: reload the page and try again.')));
      }
    });
    web.setErrorHandler((err: FastifyError, request, reply) => {
      const status = isSlipwayError(err) ? httpStatusOf(err.code) : (err.statusCode ?? 500);
      if (status >= 500) request.log.error({ err }, 'web request failed');
      const message = status >= 500 ? 'internal error (see the server log)' : err.message;
      return reply
        .code(status)
        .type('text/html')
        .send(page('Error', errorBox(message), { csrf: request.session?.csrf }));
    });

    signInRoutes(web, ctx, sessions);
    web.get('/', async (_request, reply) => reply.redirect('/apps', 303));
    deployButton(web, ctx);
    appPages(web, ctx);
  });
}

function signInRoutes(web: FastifyInstance, ctx: ApiContext, sessions: Sessions): void {
  const failures = new AuthFailures();
  const form = (next: string, error?: string) =>
    page(
      'Sign in',
      html`<h1>Sign in</h1>${error ? errorBox(error) : ''}
<section><form method="post" action="/sign-in">
<input type="hidden" name="next" value="${next}">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<p class="hint">The token <code>slipway login</code> uses (printed at the server's first start).</p>
<p><button>Sign in</button></p></form></section>`,
    );
  const safeNext = (next: unknown) => (typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/apps'); // never another origin

  web.get<{ Querystring: { next?: string } }>('/sign-in', async (request, reply) =>
    reply.type('text/html').send(form(safeNext(request.query.next))),
  );

  web.post('/sign-in', async (request: FastifyRequest, reply: FastifyReply) => {
    const body = (request.body ?? {}) as Form;
    const next = safeNext(body.next);
    let author: string;
    try {
      author = (await authenticate(ctx.store, `Bearer ${body.token ?? ''}`)).name;
    } catch {
      failures.record(request.ip); // throws auth.rate_limited over the budget
      return reply.code(401).type('text/html').send(form(next, 'Invalid API token.'));
    }
    const session = sessions.create(author);
    return reply.header('set-cookie', sessionCookie(session)).redirect(next, 303);
  });

  web.post('/sign-out', async (request, reply) => {
    if (request.session) sessions.remove(request.session.id);
    return reply.header('set-cookie', sessionCookie(null)).redirect('/sign-in', 303);
  });
}
