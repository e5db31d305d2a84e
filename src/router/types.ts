// The router seam: the pipeline tells the router which backends serve which
// app; the router owns the data plane. Each call swaps the route table
// atomically: a request sees either the old or the new backends, never a mix.

export interface Backend {
  /** Container id, for draining and logs. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface AppRoute {
  /** Every hostname the app answers on (`myapp.localhost`, custom domains). */
  readonly hostnames: readonly string[];
  /** Live web containers; empty means the app exists but nothing serves it (503). */
  readonly backends: readonly Backend[];
  /** Plain HTTP requests get a redirect to HTTPS (ACME challenges excepted). */
  readonly forceHttps?: boolean;
  /** HTTPS responses carry Strict-Transport-Security. */
  readonly hsts?: boolean;
}

/** A certificate the router serves over HTTPS, for the names it covers (`*.example.com` included). */
export interface TlsCertificate {
  readonly hostnames: readonly string[];
  /** PEM: the leaf first, then its intermediates. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
}

export interface Router {
  /** Install or replace the route of one app. */
  setRoute(app: string, route: AppRoute): void;
  /** Forget an app entirely (its hostnames then answer 404). */
  removeRoute(app: string): void;
  /**
   * Resolves once every route change made so far is what new requests see.
   * Drivers that apply changes synchronously omit it; the built-in router waits for its
   * router worker processes, nginx for its reload.
   */
  settled?(): Promise<void>;
  /**
   * The start-up has routed every app again. A router that outlived the server (an nginx
   * master a killed Slipway left, taken over) holds route changes until then, so the
   * backends it kept serve on meanwhile; drivers that start afresh omit it.
   */
  startUpDone?(): void;
  /**
   * Replaces the whole set of certificates served over HTTPS: new handshakes
   * use the new set, open connections keep theirs. Drivers without HTTPS omit it.
   */
  setCertificates?(certificates: readonly TlsCertificate[]): void;
  /**
   * Answers `GET /.well-known/acme-challenge/<token>` over plain HTTP with
   * `keyAuthorization` (ACME http-01), on every hostname; null stops answering it.
   */
  setChallenge?(token: string, keyAuthorization: string | null): void;
  /**
   * Answers TLS handshakes for `hostname` that offer ALPN `acme-tls/1` with
   * this certificate (ACME tls-alpn-01); null stops. Drivers without it omit it.
   */
  setAlpnChallenge?(hostname: string, certificate: { readonly cert: string; readonly key: string } | null): void;
  /** Resolves once no request is in flight to these backends, or after `timeoutMs`. */
  drain(backendIds: readonly string[], timeoutMs: number): Promise<void>;
  /** The address the router listens on. */
  readonly address: { readonly host: string; readonly port: number };
  /** The HTTPS listener's address, when the router has one. */
  readonly tlsAddress?: { readonly host: string; readonly port: number } | undefined;
  close(): Promise<void>;
  /**
   * Server shutdown that leaves the router serving what it has (SLIPWAY_KEEP_APPS_ON_EXIT),
   * for the next start to take over. Drivers that live in the server's process omit it.
   */
  detach?(): Promise<void>;
}
