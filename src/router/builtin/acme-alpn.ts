// ACME tls-alpn-01 (RFC 8737) on the HTTPS listener: while a challenge for a
// hostname is pending, a handshake for that name that offers ALPN
// `acme-tls/1` gets the challenge's certificate instead of the app's, and the
// connection is closed once the handshake is done (no HTTP on it). OpenSSL
// picks the ALPN protocol before it asks for the certificate in TLS 1.3, so
// the ALPN callback marks the connection and the SNI callback (both called
// on the connection's socket) serves the challenge; in TLS 1.2 the order is
// the other way round, and such a handshake fails rather than show the CA the
// app's certificate. Every other handshake: HTTP/1.1 (docs/https.md).

import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { TlsCertificate } from '../types.ts';

export const ACME_TLS_1 = 'acme-tls/1';
const CHALLENGE = Symbol('acme-tls/1 handshake');
const SNI_DONE = Symbol('certificate chosen');

type Marked = TLSSocket & { [CHALLENGE]?: true; [SNI_DONE]?: true };

export interface AlpnChallenges {
  /** Serves `certificate` to `acme-tls/1` handshakes for `hostname`; null stops. */
  set(hostname: string, certificate: Pick<TlsCertificate, 'cert' | 'key'> | null): void;
  /** The listener's ALPN and SNI callbacks, `lookup` giving the apps' certificates. */
  callbacks(lookup: (servername: string) => SecureContext | undefined): Pick<tls.TlsOptions, 'SNICallback'> & {
    ALPNCallback(this: TLSSocket, hello: { servername: string; protocols: string[] }): string | undefined;
  };
  /** Ends a connection made for a challenge, once its handshake is done. */
  endIfChallenge(socket: TLSSocket): boolean;
}

export function alpnChallenges(): AlpnChallenges {
  const contexts = new Map<string, SecureContext>();
  return {
    set(hostname, certificate) {
      const name = hostname.toLowerCase();
      if (certificate === null) contexts.delete(name);
      else contexts.set(name, tls.createSecureContext({ cert: certificate.cert, key: certificate.key }));
    },
    callbacks(lookup) {
      return {
        ALPNCallback(this: Marked, { servername, protocols }) {
          const name = typeof servername === 'string' ? servername.toLowerCase() : '';
          if (protocols.includes(ACME_TLS_1) && this[SNI_DONE] !== true && contexts.has(name)) {
            this[CHALLENGE] = true;
            return ACME_TLS_1;
          }
          // HTTP/1.1 only: the data path is HTTP/1.1's (docs/https.md); nothing else is agreed to.
          return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
        },
        SNICallback(this: Marked, servername: string, done: (err: Error | null, ctx?: SecureContext) => void) {
          this[SNI_DONE] = true;
          // No certificate for the name: the default context has none, and the handshake fails.
          done(null, this[CHALLENGE] === true ? contexts.get(servername.toLowerCase()) : lookup(servername));
        },
      };
    },
    endIfChallenge(socket) {
      if ((socket as Marked)[CHALLENGE] !== true) return false;
      socket.end();
      return true;
    },
  };
}
