// Deploying from a URL: which URLs are accepted (http and https only, never
// file:// or a local path), and downloading a tarball with a size cap,
// timeouts and a destination check (whether a URL names a git repository or a
// tarball: locate-source.ts). A failure says what happened.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { displayUrl } from '../core/display-url.ts';
import { isSlipwayError, SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import { checkedLookup, type DestinationPolicy, deniedDestination, hostOf } from './check-destination.ts';
import { spoolStream } from './spool-stream.ts';

export interface FetchLimits {
  /** Largest download accepted (the upload cap). */
  readonly maxBytes: number;
  /** Longest wait for the server to answer (connect and response headers). */
  readonly connectTimeoutMs: number;
  /** Longest the whole download may take. */
  readonly totalTimeoutMs: number;
  /** Which addresses may be fetched from (check-destination.ts): public ones unless the server allows all. */
  readonly destinations: DestinationPolicy;
}

export const DEFAULT_FETCH_TIMEOUTS = { connectTimeoutMs: 30_000, totalTimeoutMs: 10 * 60_000 } as const;

/** Parses a source URL; anything but an absolute http(s) URL is `source.invalid_url`. */
export function parseSourceUrl(raw: unknown): URL {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2000) {
    throw new SlipwayError('source.invalid_url', 'source_url must be an http:// or https:// URL');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SlipwayError('source.invalid_url', `${displayUrl(raw)} is not a URL: give an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SlipwayError('source.invalid_url', `${url.protocol} URLs are not accepted: only http:// and https://`);
  }
  return url;
}

/** A source URL as messages show it: without credentials (core/display-url.ts) nor fragment. */
export function shownUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = '';
  return displayUrl(copy);
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Downloads a tarball into `spoolDir`; returns the file (the caller's to
 * remove). Redirects are followed by hand, up to five, each hop's URL checked
 * like the first (http or https, a public destination unless allowed).
 */
export async function downloadTarball(url: URL, spoolDir: string, limits: FetchLimits): Promise<string> {
  const shown = shownUrl(url);
  const total = AbortSignal.timeout(limits.totalTimeoutMs);
  let current = url;
  for (let hop = 0; ; hop++) {
    const response = await requestOnce(current, limits, total, shown);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (REDIRECTS.has(status) && location) {
      response.resume();
      if (hop >= MAX_REDIRECTS) throw fetchFailed(shown, `more than ${MAX_REDIRECTS} redirects`);
      current = parseSourceUrl(new URL(location, current).href);
      continue;
    }
    if (status < 200 || status > 299) {
      response.resume();
      throw fetchFailed(shown, `HTTP ${status}`);
    }
    if (Number(response.headers['content-length'] ?? Number.NaN) > limits.maxBytes) {
      response.destroy();
      throw tooLarge(shown, limits.maxBytes);
    }
    return spoolStream(response, {
      dir: spoolDir,
      prefix: 'url',
      maxBytes: limits.maxBytes,
      signal: total,
      tooLarge: () => tooLarge(shown, limits.maxBytes),
      empty: () => new SlipwayError('source.empty', `${shown} is empty`),
      interrupted: () => fetchFailed(shown, total.aborted ? 'download took too long' : 'the connection broke'),
    });
  }
}

/**
 * One GET, answered with its response head; not getting one is
 * `source.fetch_failed` saying why (connectFailure).
 */
export function requestOnce(
  url: URL,
  limits: FetchLimits,
  total: AbortSignal,
  shown: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<IncomingMessage> {
  const host = hostOf(url);
  if (isIP(host) && !limits.destinations(host)) throw deniedDestination(host);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, {
      agent: false,
      lookup: checkedLookup(limits.destinations),
      signal: total,
      headers: { 'user-agent': 'slipway', accept: '*/*', 'accept-encoding': 'identity', ...headers },
    });
    const timer = setTimeout(() => request.destroy(new NoAnswer()), limits.connectTimeoutMs);
    request.once('response', (response) => {
      clearTimeout(timer);
      resolve(response);
    });
    request.once('error', (err) => {
      clearTimeout(timer);
      reject(isSlipwayError(err) ? err : fetchFailed(shown, connectFailure(err, url, limits.connectTimeoutMs)));
    });
  });
}

class NoAnswer extends Error {}

const BY_ERRNO: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'the connection timed out',
  EPIPE: 'the connection was closed',
};

/**
 * Why a request got no answer, in a user's words. The address check
 * (check-destination.ts) is what keeps fetches out of the server's network:
 * saying "refused" or "no answer" about an allowed address tells an API user
 * nothing an app of theirs could not find out by connecting itself.
 */
export function connectFailure(err: NodeJS.ErrnoException, url: URL, timeoutMs: number): string {
  const timedOut = err instanceof NoAnswer || err.name === 'AbortError';
  if (timedOut) return `no answer from ${url.host} within ${timeoutMs / 1000} s`;
  if (err.code === 'ENOTFOUND') return `no such host ${url.hostname}`;
  if (err.code === 'EAI_AGAIN') return `could not resolve ${url.hostname} (DNS lookup failed)`;
  const known = err.code ? BY_ERRNO[err.code] : undefined;
  if (known) return known;
  const tls = err.code?.startsWith('ERR_TLS') || /certificate|ssl|tls/i.test(err.message);
  return tls ? `TLS: ${err.message}` : err.message;
}

export function fetchFailed(shown: string, why: string): SlipwayError {
  return new SlipwayError('source.fetch_failed', `could not fetch ${shown}: ${why}`);
}

function tooLarge(shown: string, maxBytes: number): SlipwayError {
  return new SlipwayError('source.too_large', `${shown} is larger than the limit of ${formatBytes(maxBytes)}`, {
    limit: maxBytes,
  });
}
