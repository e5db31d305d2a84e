// The nginx driver's certificate files (docs/https.md): each certificate and
// key written once under the driver's folder (0600, named by their content),
// the ones nginx no longer names removed, and the self-signed stand-in nginx
// requires on a server block whose certificates the Lua module sets.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import type { TlsCertificate } from '../types.ts';
import type { TlsConfig } from './render-config.ts';

/**
 * The certificate nginx requires on an HTTPS server whose certificates the Lua module sets: a
 * self-signed one it never serves (the module replaces it, or fails the handshake). Made once.
 */
export async function standInCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const standIn = path.join(dir, 'tls-stand-in');
  const certFile = path.join(standIn, 'cert.pem');
  const keyFile = path.join(standIn, 'key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile };
  fs.mkdirSync(standIn, { recursive: true, mode: 0o700 });
  await runChecked(
    [
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${keyFile}.tmp`,
      '-out',
      `${certFile}.tmp`,
      '-days',
      '36500',
      '-subj',
      '/CN=slipway-stand-in',
    ],
    { env: HELPER_ENV },
  );
  fs.chmodSync(`${keyFile}.tmp`, 0o600);
  fs.renameSync(`${keyFile}.tmp`, keyFile);
  fs.renameSync(`${certFile}.tmp`, certFile);
  return { certFile, keyFile };
}

/** The certificate's files (named by their content, 0600), for nginx to read at its next reload. */
export function writeCertFiles(dir: string, certificate: TlsCertificate): { certFile: string; keyFile: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = createHash('sha256')
    .update(certificate.cert)
    .update('\0')
    .update(certificate.key)
    .digest('hex')
    .slice(0, 24);
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  if (!fs.existsSync(keyFile)) {
    fs.writeFileSync(`${certFile}.tmp`, certificate.cert, { mode: 0o600 });
    fs.renameSync(`${certFile}.tmp`, certFile);
    fs.writeFileSync(`${keyFile}.tmp`, certificate.key, { mode: 0o600 });
    fs.renameSync(`${keyFile}.tmp`, keyFile);
  }
  return { certFile, keyFile };
}

/** Once nginx runs a configuration: the files of certificates it no longer names. */
export function removeUnusedCertFiles(dir: string, tls: TlsConfig | undefined): void {
  if (tls === undefined || !fs.existsSync(dir)) return;
  const used = new Set(tls.certificates.flatMap((c) => [path.basename(c.certFile), path.basename(c.keyFile)]));
  for (const file of fs.readdirSync(dir)) if (!used.has(file)) fs.rmSync(path.join(dir, file), { force: true });
}
