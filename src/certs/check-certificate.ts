// Checks a certificate chain and its key before Slipway serves them (node's
// X509Certificate does the parsing): PEM, the key matches the leaf, the
// validity window, each certificate issued by the next one, the chain ending
// at a root (its own, or one node trusts), and the names it covers among the
// app's hostnames. Every failure is a SlipwayError a user can act on.

import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { SlipwayError } from '../core/errors.ts';

export interface CertificateInfo {
  /** The names it is valid for (DNS subject alternative names, else the common name). */
  readonly names: readonly string[];
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprint: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, leaf first; `cert.not_pem` when there are none or one is unreadable. */
export function parseChain(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new SlipwayError(
      'cert.not_pem',
      'the certificate file is not PEM: expected "-----BEGIN CERTIFICATE-----" blocks (convert DER with `openssl x509 -inform der`)',
    );
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new SlipwayError(
        'cert.not_pem',
        `certificate ${i + 1} of the file cannot be read: ${(err as Error).message}`,
      );
    }
  });
}

export function parseKey(pem: string): KeyObject {
  if (!pem.includes('PRIVATE KEY-----'))
    throw new SlipwayError('cert.key_invalid', 'the key file is not a PEM private key ("-----BEGIN PRIVATE KEY-----")');
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const encrypted = /ENCRYPTED|Proc-Type: 4,ENCRYPTED/.test(pem);
    throw new SlipwayError(
      'cert.key_invalid',
      encrypted
        ? 'the private key is encrypted: give it without a passphrase (`openssl pkey -in KEY -out plain.key`)'
        : `the private key cannot be read: ${(err as Error).message}`,
    );
  }
}

export function describe(leaf: X509Certificate): CertificateInfo {
  const sans = (leaf.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
  return {
    names: sans.length > 0 ? sans : cn === undefined ? [] : [cn],
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    fingerprint: leaf.fingerprint256,
  };
}

let trustedRoots: X509Certificate[] | undefined;
const roots = () => {
  trustedRoots ??= tls.rootCertificates.map((pem) => new X509Certificate(pem));
  return trustedRoots;
};

const issuedBy = (cert: X509Certificate, issuer: X509Certificate) =>
  cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/** The key matches the leaf, and the leaf is valid at `now`. */
function checkPair(certPem: string, keyPem: string, now: Date): { chain: X509Certificate[]; info: CertificateInfo } {
  const chain = parseChain(certPem);
  const leaf = chain[0] as X509Certificate;
  const info = describe(leaf);
  const key = parseKey(keyPem);
  if (!leaf.checkPrivateKey(key))
    throw new SlipwayError(
      'cert.key_mismatch',
      `the private key does not belong to the certificate for ${info.names.join(', ')}`,
    );
  if (now < new Date(leaf.validFrom))
    throw new SlipwayError('cert.not_yet_valid', `the certificate is not valid before ${info.notBefore}`);
  if (now > new Date(leaf.validTo))
    throw new SlipwayError('cert.expired', `the certificate expired on ${info.notAfter}`);
  return { chain, info };
}

/** Each certificate issued by the next, the last one by itself or a root node trusts. */
function checkChain(chain: readonly X509Certificate[]): void {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i] as X509Certificate, chain[i + 1] as X509Certificate))
      throw new SlipwayError(
        'cert.chain_invalid',
        `certificate ${i + 2} of the file did not issue certificate ${i + 1}: put the server certificate first, then each issuer in order`,
      );
  }
  const last = chain[chain.length - 1] as X509Certificate;
  if (!issuedBy(last, last) && !roots().some((root) => issuedBy(last, root)))
    throw new SlipwayError(
      'cert.chain_incomplete',
      `the chain stops at "${last.issuer.replace(/\n/g, ', ')}", which is not a trusted root: append the intermediate certificate(s) your CA gave you (and, for a private CA, its root)`,
    );
}

/** Checks a certificate and key for a server of its own names (the API's `--api-tls-cert`): all but the names. */
export function checkServerCertificate(certPem: string, keyPem: string, now = new Date()): CertificateInfo {
  const { chain, info } = checkPair(certPem, keyPem, now);
  checkChain(chain);
  return info;
}

/**
 * Checks `certPem` and `keyPem` for serving `hostnames` (the app's; the
 * `domain` a user named, when given, must be one of them) at `now`. Returns
 * the leaf's description and the hostnames it covers.
 */
export function checkCertificate(
  certPem: string,
  keyPem: string,
  hostnames: readonly string[],
  options: { domain?: string | undefined; now?: Date } = {},
): { info: CertificateInfo; covers: string[] } {
  const { chain, info } = checkPair(certPem, keyPem, options.now ?? new Date());
  const leaf = chain[0] as X509Certificate;
  const wanted = options.domain === undefined ? hostnames : [options.domain.toLowerCase()];
  if (options.domain !== undefined && !hostnames.includes(options.domain.toLowerCase()))
    throw new SlipwayError(
      'cert.name_mismatch',
      `${options.domain} is not a hostname of this app (${hostnames.join(', ')}): add it with domains:add first`,
    );
  const covers = wanted.filter((host) => leaf.checkHost(host) !== undefined);
  if (covers.length === 0)
    throw new SlipwayError(
      'cert.name_mismatch',
      `the certificate is for ${info.names.join(', ') || '(no DNS name)'}, which covers none of ${wanted.join(', ')}`,
    );
  checkChain(chain);
  return { info, covers };
}
