// Deploying from a URL: which URLs are accepted (http and https only, never
// file:// or a local path), whether one names a git repository or a tarball,
// and downloading a tarball with a size cap, timeouts and a destination check.

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

const TARBALL_PATH = /\.(tar\.gz|tgz)$/i;
const GIT_PATH = /\.git\/?$/i;

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

/**
 * A git repository when the path ends in `.git`, or when a ref is given and the
 * path does not end in `.tar.gz`/`.tgz`; a tarball otherwise.
 */
export function isGitUrl(url: URL, ref: string | null): boolean {
  if (GIT_PATH.test(url.pathname)) return true;
  return ref !== null && !TARBALL_PATH.test(url.pathname);
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Downloads a tarball into `spoolDir`; returns the file (the caller's to
 * remove). Redirects are followed by hand, up to five, each hop's URL checked
 * like the first (http or https, a public destination unless allowed).
 */
export async function downloadTarball(url: URL, spoolDir: string, limits: FetchLimits): Promise<string> {
  const shown = displayUrl(url);
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
 * One GET, answered with its response head. Every way of not getting one
 * (refused, unreachable, no name, no answer in time) is the same message, so
 * that errors never tell open, closed and filtered ports apart.
 */
function requestOnce(url: URL, limits: FetchLimits, total: AbortSignal, shown: string): Promise<IncomingMessage> {
  const host = hostOf(url);
  if (isIP(host) && !limits.destinations(host)) throw deniedDestination(host);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, {
      agent: false,
      lookup: checkedLookup(limits.destinations),
      signal: total,
      headers: { 'user-agent': 'slipway', accept: '*/*', 'accept-encoding': 'identity' },
    });
    const timer = setTimeout(() => request.destroy(new Error('no answer in time')), limits.connectTimeoutMs);
    request.once('response', (response) => {
      clearTimeout(timer);
      resolve(response);
    });
    request.once('error', (err) => {
      clearTimeout(timer);
      reject(isSlipwayError(err) ? err : fetchFailed(shown, `no answer from ${url.host}`));
    });
  });
}

export function fetchFailed(shown: string, why: string): SlipwayError {
  return new SlipwayError('source.fetch_failed', `could not fetch ${shown}: ${why}`);
}

function tooLarge(shown: string, maxBytes: number): SlipwayError {
  return new SlipwayError('source.too_large', `${shown} is larger than the limit of ${formatBytes(maxBytes)}`, {
    limit: maxBytes,
  });
}
