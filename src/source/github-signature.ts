// GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC of the raw
// body with the webhook secret>`, compared in constant time.

import { createHmac, timingSafeEqual } from 'node:crypto';

export function signBody(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
