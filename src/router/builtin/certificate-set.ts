// The certificates the HTTPS listener serves, looked up by the name a client
// asks for (SNI): an exact hostname first, then a wildcard one label up
// (`*.example.com` covers `a.example.com`, not `example.com` nor
// `a.b.example.com`, as RFC 6125 says). A set is built whole and never
// changed; the listener swaps one reference, so a handshake sees the old set
// or the new one, and connections already open keep the context they got.

import tls, { type SecureContext } from 'node:tls';
import type { TlsCertificate } from '../types.ts';

/** Mozilla's "intermediate" TLS 1.2 suites (forward secret AEAD only); TLS 1.3 suites are node's defaults. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface CertificateSet {
  lookup(servername: string): SecureContext | undefined;
}

export const EMPTY_CERTIFICATES: CertificateSet = { lookup: () => undefined };

/**
 * Builds a set; `reuse` keeps the contexts of certificates that did not
 * change (parsing a key is the expensive part). Throws on a certificate or
 * key that node cannot load.
 */
export function buildCertificateSet(
  certificates: readonly TlsCertificate[],
  reuse: Map<string, SecureContext>,
): CertificateSet {
  const byName = new Map<string, SecureContext>();
  const kept = new Map<string, SecureContext>();
  for (const certificate of certificates) {
    const cacheKey = `${certificate.cert}\0${certificate.key}`;
    const context =
      kept.get(cacheKey) ??
      reuse.get(cacheKey) ??
      tls.createSecureContext({
        cert: certificate.cert,
        key: certificate.key,
        minVersion: 'TLSv1.2',
        ciphers: TLS12_CIPHERS,
        honorCipherOrder: true,
      });
    kept.set(cacheKey, context);
    for (const name of certificate.hostnames) byName.set(name.toLowerCase(), context);
  }
  reuse.clear();
  for (const [key, context] of kept) reuse.set(key, context);
  return {
    lookup(servername) {
      const name = servername.toLowerCase();
      const exact = byName.get(name);
      if (exact !== undefined) return exact;
      const dot = name.indexOf('.');
      return dot === -1 ? undefined : byName.get(`*${name.slice(dot)}`);
    },
  };
}
