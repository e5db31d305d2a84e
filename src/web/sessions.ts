// Dashboard sessions: signing in with an API token gives a random session id
// in an HttpOnly, SameSite=Strict cookie. Sessions live in memory (a server
// restart signs everyone out). Each session has its own CSRF token, checked on
// every form post.

import { randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'slipway_session';
const TTL_MS = 12 * 3_600_000;
const MAX_SESSIONS = 1000;

export interface Session {
  readonly id: string;
  /** The name of the API token used to sign in (recorded as author). */
  readonly author: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

export interface Sessions {
  create(author: string): Session;
  get(cookieHeader: string | undefined): Session | null;
  remove(id: string): void;
}

export function createSessions(now: () => number = Date.now): Sessions {
  const byId = new Map<string, Session>();
  return {
    create(author) {
      if (byId.size >= MAX_SESSIONS) {
        const oldest = byId.keys().next().value;
        if (oldest !== undefined) byId.delete(oldest);
      }
      const session = {
        id: randomBytes(32).toString('base64url'),
        author,
        csrf: randomBytes(32).toString('base64url'),
        expiresAt: now() + TTL_MS,
      };
      byId.set(session.id, session);
      return session;
    },
    get(cookieHeader) {
      const id = readCookie(cookieHeader, COOKIE);
      const session = id ? byId.get(id) : undefined;
      if (!session) return null;
      if (session.expiresAt <= now()) {
        byId.delete(session.id);
        return null;
      }
      return session;
    },
    remove(id) {
      byId.delete(id);
    },
  };
}

export function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** `secure`: the dashboard is served over HTTPS, so the browser must never send the cookie over plain HTTP. */
export function sessionCookie(session: Session | null, secure = false): string {
  const base = `${COOKIE}=${session?.id ?? ''}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return session ? `${base}; Max-Age=${Math.floor(TTL_MS / 1000)}` : `${base}; Max-Age=0`;
}

export function csrfMatches(session: Session, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
