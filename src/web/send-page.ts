// What the web routes share: the parsed form body and sending a page.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Html, page } from './html.ts';

/** An application/x-www-form-urlencoded body. */
export type Form = Record<string, string>;

/** Sends a page of a signed-in user (with the sign-out form). */
export function sendPage(reply: FastifyReply, request: FastifyRequest, title: string, body: Html) {
  return reply.type('text/html; charset=utf-8').send(page(title, body, { csrf: request.session?.csrf }));
}
