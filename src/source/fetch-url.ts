// Deploying from a URL: which URLs are accepted (http and https only, never
// file:// or a local path), whether one names a git repository or a tarball,
// and downloading a tarball with a size cap and timeouts.

import { Readable } from 'node:stream';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import { spoolStream } from './spool-stream.ts';

export interface FetchLimits {
  /** Largest download accepted (the upload cap). */
  readonly maxBytes: number;
  /** Longest wait for the server to answer (connect and response headers). */
  readonly connectTimeoutMs: number;
  /** Longest the whole download may take. */
  readonly totalTimeoutMs: number;
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
    throw new SlipwayError('source.invalid_url', `${raw} is not a URL: give an http:// or https:// URL`);
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

/** The URL without credentials, for logs and messages. */
export function displayUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** Downloads a tarball into `spoolDir`; returns the file (the caller's to remove). */
export async function downloadTarball(url: URL, spoolDir: string, limits: FetchLimits): Promise<string> {
  const shown = displayUrl(url);
  const total = AbortSignal.timeout(limits.totalTimeoutMs);
  const answered = new AbortController();
  const connectTimer = setTimeout(() => answered.abort(), limits.connectTimeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any([total, answered.signal]), redirect: 'follow' });
  } catch (err) {
    throw fetchFailed(shown, answered.signal.aborted ? 'no answer in time' : errorText(err));
  } finally {
    clearTimeout(connectTimer);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw fetchFailed(shown, `HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limits.maxBytes) {
    await response.body.cancel().catch(() => {});
    throw tooLarge(shown, limits.maxBytes);
  }
  return spoolStream(Readable.fromWeb(response.body as never), {
    dir: spoolDir,
    prefix: 'url',
    maxBytes: limits.maxBytes,
    signal: total,
    tooLarge: () => tooLarge(shown, limits.maxBytes),
    empty: () => new SlipwayError('source.empty', `${shown} is empty`),
    interrupted: (err) => fetchFailed(shown, total.aborted ? 'download took too long' : errorText(err)),
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

function errorText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
