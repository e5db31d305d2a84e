// The dashboard and the deploy button (server-rendered HTML): one fastify
// plugin with its own form parser, session check and HTML error page. Pages
// use the same ApiContext as the API routes.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/api-context.ts';
import { authenticate } from '../api/auth.ts';
import type { AuthFailures } from '../api/auth-failures.ts';
import { httpStatusOf } from '../api/error-status.ts';
import { isSlipwayError } from '../core/errors.ts';
import { appPages } from './app-pages.ts';
import { deployButton } from './deploy-button.ts';
import { errorBox, html, page } from './html.ts';
import type { Form } from './send-page.ts';
import { sameOriginPath } from './session-access.ts';
import { type Sessions, sessionCookie } from './sessions.ts';

export function webRoutes(api: FastifyInstance, ctx: ApiContext, sessions: Sessions, failures: AuthFailures): void {
  api.decorateRequest('session', null); // on the root: the access gate sets it there (web/session-access.ts)
  api.register(async (web) => {
    // Every page and form here needs a session (api/access-gate.ts) unless it says `public`.
    web.addHook('onRoute', (route) => {
      route.config = { access: 'session', ...route.config };
    });
    web.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 256 * 1024 },
      (_r, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    web.setErrorHandler((err: FastifyError, request, reply) => {
      const status = isSlipwayError(err) ? httpStatusOf(err.code) : (err.statusCode ?? 500);
      // A SlipwayError's message is written for the user, whatever its status (a source that
      // cannot be fetched is a 502, a full disk a 507); anything else is a fault of ours.
      const fault = status >= 500 && !isSlipwayError(err);
      if (fault) request.log.error({ err }, 'web request failed');
      const message = fault
        ? `The server failed on this page: ${err.message} (details in the server log)`
        : err.message;
      return reply
        .code(status)
        .type('text/html')
        .send(page('Error', errorBox(message), { csrf: request.session?.csrf }));
    });

    signInRoutes(web, ctx, sessions, failures);
    web.get('/', async (_request, reply) => reply.redirect('/apps', 303));
    deployButton(web, ctx);
    appPages(web, ctx);
  });
}

/** A redirect to sign-in keeps the page's fragment (a deploy button's `#branch`): so does `next`. */
const KEEP_FRAGMENT = `(function () {
  var next = document.querySelector('input[name=next]');
  if (location.hash.length > 1 && next.value.indexOf('#') < 0) next.value += location.hash;
})();`;

function signInRoutes(web: FastifyInstance, ctx: ApiContext, sessions: Sessions, failures: AuthFailures): void {
  const form = (next: string, error?: string) =>
    page(
      'Sign in',
      html`<h1>Sign in</h1>${error ? errorBox(error) : ''}
<section><form method="post" action="/sign-in">
<input type="hidden" name="next" value="${next}">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<p class="hint">The token <code>slipway login</code> uses (printed at the server's first start).</p>
<p><button>Sign in</button></p></form></section><script>${{ __html: KEEP_FRAGMENT }}</script>`,
    );

  web.get<{ Querystring: { next?: string } }>('/sign-in', { config: { access: 'public' } }, async (request, reply) =>
    reply.type('text/html').send(form(sameOriginPath(request.query.next))),
  );

  web.post('/sign-in', { config: { access: 'public' } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const body = (request.body ?? {}) as Form;
    const next = sameOriginPath(body.next);
    let author: string;
    try {
      author = (await authenticate(ctx.store, `Bearer ${body.token ?? ''}`)).name;
    } catch {
      failures.record(request.ip); // throws auth.rate_limited over the budget
      return reply.code(401).type('text/html').send(form(next, 'Invalid API token.'));
    }
    const session = sessions.create(author);
    return reply.header('set-cookie', sessionCookie(session, request.protocol === 'https')).redirect(next, 303);
  });

  web.post('/sign-out', async (request, reply) => {
    if (request.session) sessions.remove(request.session.id);
    return reply.header('set-cookie', sessionCookie(null, request.protocol === 'https')).redirect('/sign-in', 303);
  });
}
