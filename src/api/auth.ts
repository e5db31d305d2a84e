// API tokens: random 32-byte tokens, stored as SHA-256 hashes (a token has far
// more entropy than a password, so a slow hash buys nothing). Lookup is by
// hash: timing can at most reveal bits of a hash of the guess, which an
// attacker computes anyway, never bits of a stored token.

import { createHash, randomBytes } from 'node:crypto';
import { isSlipwayError, SlipwayError } from '../core/errors.ts';
import type { Store } from '../store/types.ts';
import type { AccessCheck } from './access-gate.ts';
import type { AuthFailures } from './auth-failures.ts';
import { httpStatusOf } from './error-status.ts';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return `slw_${randomBytes(32).toString('base64url')}`;
}

/** At first start: creates the admin token. Returns it only when it was generated here (to print once). */
export async function ensureAdminToken(store: Store, initialToken: string | undefined): Promise<string | null> {
  if ((await store.tokens.count()) > 0) return null;
  const token = initialToken ?? generateToken();
  await store.tokens.create('admin', hashToken(token));
  return initialToken ? null : token;
}

export async function authenticate(store: Store, header: string | undefined): Promise<{ name: string }> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) {
    throw new SlipwayError(
      'auth.missing_token',
      'missing API token: send "Authorization: Bearer <token>" (slipway login)',
    );
  }
  const found = await store.tokens.findByHash(hashToken(match[1]));
  if (!found) {
    throw new SlipwayError('auth.invalid_token', 'invalid API token');
  }
  return found;
}

/** Git over HTTP: Basic auth with the API token as password (any user name). */
export async function authenticateBasic(store: Store, header: string | undefined): Promise<{ name: string }> {
  const encoded = /^Basic\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
  const decoded = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  const token = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : '';
  if (!token) {
    throw new SlipwayError(
      'auth.missing_token',
      'git needs your API token as password (slipway git:remote sets up a credential helper)',
    );
  }
  return authenticate(store, `Bearer ${token}`);
}

/** The API's check: a Bearer token; failures count against the client's budget (429 past it). */
export function tokenCheck(store: Store, failures: AuthFailures): AccessCheck {
  return {
    async onRequest(request) {
      try {
        request.author = (await authenticate(store, request.headers.authorization)).name;
      } catch (err) {
        failures.record(request.ip); // over the budget, this throws auth.rate_limited instead
        throw err;
      }
    },
  };
}

/**
 * Git's check: basic auth, answered in plain text (git shows it as `remote:`
 * lines) with the challenge that makes git ask its credential helper.
 * Failures share the API's budget, so guessing over git is throttled too.
 */
export function gitCheck(store: Store, failures: AuthFailures): AccessCheck {
  return {
    async onRequest(request, reply) {
      try {
        request.author = (await authenticateBasic(store, request.headers.authorization)).name;
      } catch (err) {
        if (!isSlipwayError(err)) throw err;
        let refusal = err;
        try {
          // git asks without credentials first, every time: only a wrong token counts.
          if (err.code !== 'auth.missing_token') failures.record(request.ip);
        } catch (limited) {
          if (!isSlipwayError(limited)) throw limited;
          refusal = limited;
          reply.header('retry-after', String(limited.details?.retryAfter ?? 60));
        }
        if (refusal.code !== 'auth.rate_limited') reply.header('www-authenticate', 'Basic realm="Slipway"');
        return reply.code(httpStatusOf(refusal.code)).type('text/plain; charset=utf-8').send(`${refusal.message}\n`);
      }
    },
  };
}
