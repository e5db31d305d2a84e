// GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC of the raw
// body with the webhook secret>`, compared in constant time. A webhook body is
// signed as it streams in, with every candidate secret at once, so that an
// unsigned body is refused without ever being parsed.

import { createHmac, type Hmac, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';

export function signBody(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export const SIGNATURE_HEADER = /^sha256=[0-9a-f]{64}$/;

/**
 * Reads a body while computing its HMAC with each secret; resolves with the
 * body and the secrets whose signature matches `header` (none: unsigned).
 * Rejects past `maxBytes` or `deadlineMs` (a body that trickles in).
 */
export function readSignedBody(
  body: Readable,
  secrets: readonly string[],
  header: string,
  limits: { readonly maxBytes: number; readonly deadlineMs: number; readonly tooLarge: () => Error },
): Promise<{ body: Buffer; signedWith: string[] }> {
  const hmacs: [string, Hmac][] = secrets.map((secret) => [secret, createHmac('sha256', secret)]);
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer);
      body.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error('the webhook body took too long')), limits.deadlineMs);
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) return fail(limits.tooLarge());
      chunks.push(chunk);
      for (const [, hmac] of hmacs) hmac.update(chunk);
    });
    body.once('error', fail);
    body.once('end', () => {
      clearTimeout(timer);
      const given = Buffer.from(header);
      const signedWith = hmacs
        .filter(([, hmac]) => {
          const expected = Buffer.from(`sha256=${hmac.digest('hex')}`);
          return expected.length === given.length && timingSafeEqual(expected, given);
        })
        .map(([secret]) => secret);
      resolve({ body: Buffer.concat(chunks, size), signedWith });
    });
  });
}
