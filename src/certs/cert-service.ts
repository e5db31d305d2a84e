// The apps' certificates (docs/https.md): own ones a user adds, ACME ones
// obtained and renewed in the background. It installs the whole set in the
// router after every change, and keeps ACME state (last error, next attempt)
// in each certificate's meta.json so a restart resumes where it stopped.
// It never touches deployments: an app serves over HTTP whatever happens here.

import type { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { SlipwayError } from '../core/errors.ts';
import type { Store } from '../store/types.ts';
import type { AcmeOptions, AlpnChallengeSink, ChallengeSink } from './acme-order.ts';
import { API_FOLDER, type CertEntry, type CertFiles } from './cert-files.ts';
import { type CertificateInfo, checkCertificate, describe, parseChain } from './check-certificate.ts';

export interface ServedCertificate {
  readonly hostnames: readonly string[];
  readonly cert: string;
  readonly key: string;
}

export interface CertServiceDeps {
  readonly files: CertFiles;
  readonly store: Pick<Store, 'apps'>;
  /** `<app>.<domain>` and the app's custom domains. */
  readonly hostnames: (app: string) => Promise<string[]>;
  /** Replaces the router's certificate set; resolves once the router serves it. */
  readonly install: (certificates: readonly ServedCertificate[]) => void | Promise<void>;
  readonly challenges: ChallengeSink;
  /** tls-alpn-01 certificates, when the router can serve them. */
  readonly alpnChallenges?: AlpnChallengeSink;
  readonly acme: AcmeOptions;
  /** Whether apps that never ran `certs:auto` get ACME certificates. */
  readonly autoByDefault: boolean;
  /** ACME certificates are renewed this long before they expire. */
  readonly renewBeforeMs: number;
  /** How often every app's certificates are looked at. */
  readonly checkIntervalMs: number;
  /** First wait after a failed attempt; doubles per failure, up to a day. */
  readonly retryMs: number;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** The API's own ACME certificate (`--api-domain`): its hostname, and where to install it once obtained. */
  readonly api?: { readonly hostname: string; readonly install: (certificate: ServedCertificate) => void };
  /** The API's certificate from files (`--api-tls-cert`, checked at start): its PEM chain, to report it. */
  readonly apiOwnCert?: string;
}

export type CertStatus = 'ok' | 'expiring' | 'expired' | 'pending' | 'failing';

export interface CertView extends Partial<CertificateInfo> {
  readonly id: string;
  readonly source: 'own' | 'acme';
  /** The app's hostnames it is served for now. */
  readonly servedFor: readonly string[];
  readonly status: CertStatus;
  readonly lastError: string | null;
  readonly nextAttemptAt: string | null;
}

/** How the API and dashboard speak (docs/https.md): plain HTTP, HTTPS with files given, or with an ACME certificate. */
export interface ApiCertView {
  readonly tls: 'off' | 'own' | 'acme';
  readonly certificate: CertView | null;
}

const MAX_RETRY_MS = 24 * 3_600_000;
/** Own certificates are reported `expiring` this long before they expire. */
const WARN_BEFORE_MS = 30 * 86_400_000;

export function createCertService(deps: CertServiceDeps) {
  const { files, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const acmeId = (hostname: string) => `acme-${hostname}`;
  const autoOn = async (app: string) => {
    const record = await deps.store.apps.get(app);
    return record !== undefined && (record.certsAuto ?? deps.autoByDefault);
  };

  /** The hostnames an entry serves now, among the app's. */
  const servedFor = (entry: CertEntry, hostnames: readonly string[]): string[] => {
    if (entry.cert === undefined || entry.key === undefined) return [];
    if (entry.meta.source === 'acme') return hostnames.filter((h) => h === entry.meta.hostname);
    const leaf = parseChain(entry.cert)[0] as X509Certificate;
    const wanted = entry.meta.domain == null ? hostnames : hostnames.filter((h) => h === entry.meta.domain);
    return wanted.filter((h) => leaf.checkHost(h) !== undefined);
  };

  /** The API's ACME certificate, once obtained. */
  function apiCertificate(): ServedCertificate | undefined {
    if (deps.api === undefined) return undefined;
    const entry = files.read(API_FOLDER, acmeId(deps.api.hostname));
    if (entry?.cert === undefined || entry.key === undefined) return undefined;
    return { hostnames: [deps.api.hostname], cert: entry.cert, key: entry.key };
  }

  async function sync(): Promise<void> {
    const served: ServedCertificate[] = [];
    for (const app of files.apps()) {
      if ((await deps.store.apps.get(app)) === undefined) continue;
      const hostnames = await deps.hostnames(app);
      // ACME first, own last: an own certificate wins for a name both cover.
      const entries = files
        .list(app)
        .sort((a, b) => (a.meta.source === b.meta.source ? 0 : a.meta.source === 'acme' ? -1 : 1));
      for (const entry of entries) {
        try {
          const names = servedFor(entry, hostnames);
          if (names.length > 0) served.push({ hostnames: names, cert: entry.cert as string, key: entry.key as string });
        } catch (err) {
          logger.error({ err, app, certificate: entry.id }, 'a stored certificate cannot be read; it is not served');
        }
      }
    }
    const api = apiCertificate();
    if (api !== undefined && deps.api !== undefined) {
      try {
        deps.api.install(api);
      } catch (err) {
        logger.error({ err }, "the API's certificate cannot be installed; the previous one keeps serving");
      }
    }
    try {
      await deps.install(served);
    } catch (err) {
      // Checked when added, so this is a damaged file: the set before this change keeps serving.
      logger.error({ err }, 'the router refused the certificates; the previous ones keep serving');
    }
  }

  /** ok, expiring (within `warnMs` of its end), expired. */
  const validity = (notAfter: string, warnMs: number): CertStatus => {
    const left = new Date(notAfter).getTime() - now().getTime();
    return left <= 0 ? 'expired' : left <= warnMs ? 'expiring' : 'ok';
  };
  const pending = (id: string): CertView => ({
    id,
    source: 'acme',
    servedFor: [],
    status: 'pending',
    lastError: null,
    nextAttemptAt: null,
  });

  const view = (entry: CertEntry, hostnames: readonly string[]): CertView => {
    const info = entry.cert === undefined ? undefined : describe(parseChain(entry.cert)[0] as X509Certificate);
    const lastError = entry.meta.lastError ?? null;
    let status: CertStatus = 'pending';
    if (info !== undefined)
      status = validity(info.notAfter, entry.meta.source === 'acme' ? deps.renewBeforeMs : WARN_BEFORE_MS);
    else if (lastError !== null) status = 'failing';
    return {
      id: entry.id,
      source: entry.meta.source,
      ...info,
      servedFor: servedFor(entry, hostnames),
      status,
      lastError,
      nextAttemptAt: entry.meta.nextAttemptAt ?? null,
    };
  };

  // ACME: one order at a time, across apps; a check that finds one running waits for the next.
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function obtain(app: string, hostname: string, entry: CertEntry | undefined): Promise<void> {
    const id = acmeId(hostname);
    const attemptAt = now().toISOString();
    const addedAt = entry?.meta.addedAt ?? attemptAt;
    try {
      // acme-client (and its HTTP client) loads on the first order, not on the restart path.
      const { orderCertificate } = await import('./acme-order.ts');
      const pems = await orderCertificate(deps.acme, hostname, deps.challenges, deps.alpnChallenges);
      files.save(
        app,
        id,
        { source: 'acme', hostname, addedAt, lastError: null, lastAttemptAt: attemptAt, failures: 0 },
        pems,
      );
      logger.info({ app, hostname }, 'obtained a certificate');
      await sync();
    } catch (err) {
      const failures = (entry?.meta.failures ?? 0) + 1;
      const waitMs = Math.min(MAX_RETRY_MS, deps.retryMs * 2 ** (failures - 1));
      const message = err instanceof Error ? err.message : String(err);
      files.save(app, id, {
        source: 'acme',
        hostname,
        addedAt,
        lastError: message,
        lastAttemptAt: attemptAt,
        failures,
        nextAttemptAt: new Date(now().getTime() + waitMs).toISOString(),
      });
      logger.warn({ app, hostname, failures, err: message }, 'could not obtain a certificate; will retry');
    }
  }

  /** Whether `hostname` needs an ACME order now: none yet, or due for renewal, and not waiting out a backoff. */
  const due = (entry: CertEntry | undefined): boolean => {
    if (entry === undefined) return true;
    const next = entry.meta.nextAttemptAt;
    if (next != null && new Date(next) > now()) return false;
    if (entry.cert === undefined) return true;
    const notAfter = new Date((parseChain(entry.cert)[0] as X509Certificate).validTo).getTime();
    return notAfter - now().getTime() <= deps.renewBeforeMs;
  };

  /** Own certificates are not renewed by Slipway: each check says which expire soon. */
  const warnExpiring = (app: string): void => {
    for (const entry of files.list(app)) {
      if (entry.meta.source !== 'own' || entry.cert === undefined) continue;
      const notAfter = new Date((parseChain(entry.cert)[0] as X509Certificate).validTo);
      const daysLeft = Math.floor((notAfter.getTime() - now().getTime()) / 86_400_000);
      if (daysLeft <= WARN_BEFORE_MS / 86_400_000)
        logger.warn(
          { app, certificate: entry.id, notAfter: notAfter.toISOString() },
          daysLeft < 0
            ? 'an own certificate has expired: add a new one'
            : `an own certificate expires in ${daysLeft} days: add a new one`,
        );
    }
  };

  async function checkAll(): Promise<void> {
    if (deps.api !== undefined && !closed) {
      const entry = files.read(API_FOLDER, acmeId(deps.api.hostname));
      if (due(entry)) await obtain(API_FOLDER, deps.api.hostname, entry);
    }
    for (const app of (await deps.store.apps.list()).map((a) => a.name)) {
      warnExpiring(app);
      if (closed || !(await autoOn(app))) continue;
      for (const hostname of await deps.hostnames(app)) {
        const entry = files.read(app, acmeId(hostname));
        if (!closed && due(entry)) await obtain(app, hostname, entry);
      }
    }
  }

  /** Runs a check now (or right after the one running). */
  function check(): Promise<void> {
    const run = async () => {
      try {
        await checkAll();
      } catch (err) {
        logger.error({ err }, 'the certificate check failed');
      }
    };
    const next = (running ?? Promise.resolve()).then(run);
    running = next.finally(() => {
      if (running === next) running = null;
    });
    return next;
  }

  return {
    sync,
    check,
    apiCertificate,
    start(): void {
      timer = setInterval(() => void check(), deps.checkIntervalMs);
      timer.unref();
      void check();
    },
    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      await running;
    },
    async list(app: string): Promise<{ auto: boolean; certificates: CertView[] }> {
      await deps.store.apps.require(app);
      const hostnames = await deps.hostnames(app);
      const auto = await autoOn(app);
      const entries = files.list(app);
      const views = entries.map((entry) => view(entry, hostnames));
      if (auto) {
        for (const hostname of hostnames) {
          if (!entries.some((e) => e.id === acmeId(hostname))) views.push(pending(acmeId(hostname)));
        }
      }
      return { auto, certificates: views };
    },
    /** The API and dashboard's certificate: the files given (served for any name), the ACME one, or none. */
    apiView(): ApiCertView {
      if (deps.apiOwnCert !== undefined) {
        const info = describe(parseChain(deps.apiOwnCert)[0] as X509Certificate);
        const status = validity(info.notAfter, WARN_BEFORE_MS);
        const certificate = { id: 'api', source: 'own' as const, ...info, servedFor: info.names, status };
        return { tls: 'own', certificate: { ...certificate, lastError: null, nextAttemptAt: null } };
      }
      if (deps.api === undefined) return { tls: 'off', certificate: null };
      const id = acmeId(deps.api.hostname);
      const entry = files.read(API_FOLDER, id);
      return { tls: 'acme', certificate: entry === undefined ? pending(id) : view(entry, [deps.api.hostname]) };
    },
    async addOwn(app: string, cert: string, key: string, domain: string | undefined): Promise<CertView> {
      await deps.store.apps.require(app);
      const hostnames = await deps.hostnames(app);
      const { info } = checkCertificate(cert, key, hostnames, { domain, now: now() });
      const id = `own-${info.fingerprint.replace(/:/g, '').slice(0, 12).toLowerCase()}`;
      files.save(
        app,
        id,
        { source: 'own', domain: domain?.toLowerCase() ?? null, addedAt: now().toISOString() },
        { cert, key },
      );
      await sync();
      return view(files.read(app, id) as CertEntry, hostnames);
    },
    async remove(app: string, id: string): Promise<void> {
      await deps.store.apps.require(app);
      if (!/^(own|acme)-[a-z0-9.-]+$/.test(id) || !files.remove(app, id))
        throw new SlipwayError('cert.not_found', `${app} has no certificate ${id} (see \`slipway certs\`)`);
      await sync();
    },
    async setAuto(app: string, on: boolean): Promise<void> {
      await deps.store.apps.update(app, { certsAuto: on });
      if (on) void check();
    },
    /** After an app's hostnames changed: serve what covers them, order what is missing. */
    async refresh(): Promise<void> {
      await sync();
      void check();
    },
    forgetApp(app: string): void {
      files.removeApp(app);
    },
  };
}

export type CertService = ReturnType<typeof createCertService>;
