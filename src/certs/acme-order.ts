// One ACME order (RFC 8555, through acme-client): a certificate for one
// hostname, proven by an http-01 challenge that the router answers at
// /.well-known/acme-challenge/<token>, or a tls-alpn-01 one (RFC 8737) that it
// answers on its HTTPS port with a certificate made for the challenge. The account key is made once (ECDSA
// P-256) and kept under the home with mode 0600, beside the account's URL at
// each directory (registered once: a CA may refuse a second registration).

import fs from 'node:fs';
import path from 'node:path';
import acme from 'acme-client';
import { writeSecret } from './cert-files.ts';

export interface AcmeOptions {
  readonly directoryUrl: string;
  /** Contact address for the CA's expiry notices; none when undefined. */
  readonly email: string | undefined;
  readonly accountKeyFile: string;
  /** The challenge type asked for (default http-01). */
  readonly challenge?: 'http-01' | 'tls-alpn-01';
}

/** Where the http-01 answers go (the router); resolves once the router serves the change. */
export type ChallengeSink = (token: string, keyAuthorization: string | null) => void | Promise<void>;

/** Where tls-alpn-01 certificates go (the router's HTTPS listener); null: no longer. */
export type AlpnChallengeSink = (
  hostname: string,
  certificate: { cert: string; key: string } | null,
) => void | Promise<void>;

// acme-client's HTTP client: a bounded wait on a CA that does not answer.
acme.axios.defaults.timeout = 30_000;

/**
 * A request that got no answer at all (connection refused, DNS, timeout) fails at once with what
 * happened. acme-client's own handler would retry it for 75 s and then fail with a TypeError
 * ("reading 'config'"), which is what `last_error` would show; Slipway retries the order itself
 * with its backoff. Put first: a rejection without `config` passes acme-client's handler untouched.
 */
type AxiosFailure = { config?: { url?: string }; response?: unknown; code?: string; message?: string };
(
  acme.axios.interceptors.response as unknown as {
    handlers: { fulfilled: null; rejected: (err: AxiosFailure) => never }[];
  }
).handlers.unshift({
  fulfilled: null,
  rejected: (err) => {
    if (err.config === undefined || err.response !== undefined) throw err;
    throw new Error(`cannot reach the ACME CA at ${err.config.url}: ${err.code ?? err.message}`);
  },
});

async function accountKey(file: string): Promise<Buffer> {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  writeSecret(file, key.toString());
  return key;
}

type AccountUrls = Record<string, string>;

function accountUrls(keyFile: string): AccountUrls {
  try {
    return JSON.parse(fs.readFileSync(path.join(path.dirname(keyFile), 'accounts.json'), 'utf8')) as AccountUrls;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

function rememberAccount(options: AcmeOptions, urls: AccountUrls, client: acme.Client): void {
  let url: string;
  try {
    url = client.getAccountUrl();
  } catch {
    return; // the order failed before an account was registered
  }
  urls[options.directoryUrl] = url;
  writeSecret(path.join(path.dirname(options.accountKeyFile), 'accounts.json'), `${JSON.stringify(urls, null, 2)}\n`);
}

/** acme-client's types know http-01 and dns-01 only. */
const isAlpn = (challenge: { type: string }) => challenge.type === 'tls-alpn-01';

/** Obtains a certificate (chain PEM) and its new key for `hostname`; throws the CA's reason on failure. */
export async function orderCertificate(
  options: AcmeOptions,
  hostname: string,
  challenges: ChallengeSink,
  alpnChallenges?: AlpnChallengeSink,
): Promise<{ cert: string; key: string }> {
  const type = options.challenge ?? 'http-01';
  if (type === 'tls-alpn-01' && alpnChallenges === undefined)
    throw new Error('tls-alpn-01 challenges need the built-in router with an HTTPS port (--router-tls-port)');
  const urls = accountUrls(options.accountKeyFile);
  const accountUrl = urls[options.directoryUrl];
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey: await accountKey(options.accountKeyFile),
    ...(accountUrl === undefined ? {} : { accountUrl }),
    backoffAttempts: 6,
    backoffMin: 250,
    backoffMax: 5_000,
  });
  const [key, csr] = await acme.crypto.createCsr(
    { commonName: hostname, altNames: [hostname] },
    await acme.crypto.createPrivateEcdsaKey('P-256'),
  );
  try {
    const cert = await client.auto({
      csr,
      ...(options.email === undefined ? {} : { email: options.email }),
      termsOfServiceAgreed: true,
      challengePriority: [type],
      // The CA checks the challenge itself; acme-client's own check would ask this host from here.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (!isAlpn(challenge)) return challenges(challenge.token, keyAuthorization);
        const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
        return alpnChallenges?.(authz.identifier.value, { cert: alpnCert.toString(), key: alpnKey.toString() });
      },
      challengeRemoveFn: async (authz, challenge) =>
        isAlpn(challenge) ? alpnChallenges?.(authz.identifier.value, null) : challenges(challenge.token, null),
    });
    return { cert, key: key.toString() };
  } finally {
    // Registered by this order (even one that failed afterwards): remembered for the next ones.
    if (accountUrl === undefined) rememberAccount(options, urls, client);
  }
}
