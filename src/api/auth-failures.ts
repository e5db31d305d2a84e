// Per-client throttle on failed authentication: after `maxFailures` bad or
// missing tokens within `windowMs`, further failures of that client get 429
// (with Retry-After) instead of 401 until the window ends. A valid token is
// never refused, so nobody can lock the admin out. Token guessing is hopeless
// anyway (256-bit tokens); this slows a misbehaving client and says why.

import { SlipwayError } from '../core/errors.ts';

export class AuthFailures {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #byClient = new Map<string, { failures: number; resetAt: number }>();

  constructor(options: { maxFailures?: number; windowMs?: number } = {}) {
    this.#maxFailures = options.maxFailures ?? 20;
    this.#windowMs = options.windowMs ?? 60_000;
  }

  /** Counts one failure; throws `auth.rate_limited` once the client is over its budget. */
  record(client: string, now = Date.now()): void {
    if (this.#byClient.size > 10_000) this.#sweep(now);
    let entry = this.#byClient.get(client);
    if (!entry || now >= entry.resetAt) {
      entry = { failures: 0, resetAt: now + this.#windowMs };
      this.#byClient.set(client, entry);
    }
    entry.failures++;
    if (entry.failures > this.#maxFailures) {
      const seconds = Math.ceil((entry.resetAt - now) / 1000);
      throw new SlipwayError('auth.rate_limited', `too many failed authentications: try again in ${seconds}s`, {
        retryAfter: seconds,
      });
    }
  }

  #sweep(now: number): void {
    for (const [client, entry] of this.#byClient) if (now >= entry.resetAt) this.#byClient.delete(client);
  }
}
