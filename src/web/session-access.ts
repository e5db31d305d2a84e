// The dashboard's access check (the `session` kind of api/access-gate.ts): a
// session cookie on every page, its CSRF token on every form post. A page
// asked for without a session redirects to sign-in; anything else is refused.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessCheck } from '../api/access-gate.ts';
import { errorBox, page } from './html.ts';
import type { Form } from './send-page.ts';
import { csrfMatches, type Session, type Sessions } from './sessions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session (set on `session` routes). */
    session: Session | null;
  }
}

const READS = new Set(['GET', 'HEAD']);
const ORIGIN = new URL('http://slipway.invalid/');
const unsafeInUrl = (c: string) => c === '\\' || c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f;

/**
 * Where to go after signing in: only a path of this origin survives. Browsers
 * drop tabs and newlines from URLs and read `\` as `/` (`/\t/evil` is
 * `//evil`, another host), so any such character refuses the path outright,
 * and what is returned is the URL parser's own reading of it.
 */
export function sameOriginPath(next: unknown, fallback = '/apps'): string {
  if (typeof next !== 'string' || !next.startsWith('/') || [...next].some(unsafeInUrl)) return fallback;
  let url: URL;
  try {
    url = new URL(next, ORIGIN);
  } catch {
    return fallback;
  }
  // `/.//evil` parses to the path `//evil`, which a browser reads as another host.
  if (url.origin !== ORIGIN.origin || url.pathname.startsWith('//')) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}

export function sessionCheck(sessions: Sessions): AccessCheck {
  const refuse = (reply: FastifyReply, status: number, message: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(page('Refused', errorBox(message)));
  return {
    async onRequest(request: FastifyRequest, reply: FastifyReply) {
      request.session = sessions.get(request.headers.cookie);
      if (request.session) {
        request.author = request.session.author;
        return;
      }
      if (READS.has(request.method)) {
        return reply.redirect(`/sign-in?next=${encodeURIComponent(sameOriginPath(request.url))}`, 303);
      }
      return refuse(reply, 401, 'Sign in first.');
    },
    async preHandler(request: FastifyRequest, reply: FastifyReply) {
      if (READS.has(request.method) || !request.session) return;
      if (!csrfMatches(request.session, (request.body as Form | undefined)?.csrf)) {
        return refuse(reply, 403, 'Missing or wrong CSRF token: reload the page and try again.');
      }
    },
  };
}
