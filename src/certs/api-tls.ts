// How the API and dashboard speak TLS (docs/https.md, "The API and dashboard
// over HTTPS"): not at all, with the certificate files a user gives
// (`--api-tls-cert`/`--api-tls-key`, checked at start), or with an ACME
// certificate for `--api-domain`, obtained and renewed by the cert service.

import fs from 'node:fs';
import { SlipwayError } from '../core/errors.ts';
import { checkServerCertificate } from './check-certificate.ts';

export type ApiTls =
  | { readonly mode: 'plain' }
  | { readonly mode: 'files'; readonly cert: string; readonly key: string }
  | { readonly mode: 'acme'; readonly hostname: string };

export interface ApiTlsSettings {
  readonly apiTlsCert: string | null;
  readonly apiTlsKey: string | null;
  readonly apiDomain: string | null;
}

const readPem = (file: string, flag: string): string => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SlipwayError(
      'request.invalid',
      `cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
};

/** The API's TLS from the settings; a SlipwayError a user can act on when they do not fit. */
export function apiTls(settings: ApiTlsSettings, now = new Date()): ApiTls {
  const { apiTlsCert, apiTlsKey, apiDomain } = settings;
  if ((apiTlsCert === null) !== (apiTlsKey === null))
    throw new SlipwayError('request.invalid', '--api-tls-cert and --api-tls-key go together: give both');
  if (apiTlsCert !== null && apiDomain !== null)
    throw new SlipwayError(
      'request.invalid',
      'give either --api-tls-cert/--api-tls-key (your certificate) or --api-domain (an ACME one), not both',
    );
  if (apiDomain !== null) return { mode: 'acme', hostname: apiDomain };
  if (apiTlsCert === null || apiTlsKey === null) return { mode: 'plain' };
  const cert = readPem(apiTlsCert, '--api-tls-cert');
  const key = readPem(apiTlsKey, '--api-tls-key');
  try {
    checkServerCertificate(cert, key, now);
  } catch (err) {
    if (err instanceof SlipwayError)
      throw new SlipwayError(err.code, `the API's certificate (--api-tls-cert ${apiTlsCert}): ${err.message}`);
    throw err;
  }
  return { mode: 'files', cert, key };
}
