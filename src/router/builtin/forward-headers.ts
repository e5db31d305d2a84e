// Header rewriting between client and backend: one pass over the raw request
// headers picks out what routing needs, drops hop-by-hop headers and adds the
// X-Forwarded-* set and X-Request-Id; the response pass strips hop-by-hop
// headers and stamps X-Request-Id. Raw [name, value, ...] arrays are used on
// both sides so duplicates and case survive and no header object is built.

import { randomUUID } from 'node:crypto';

/** What a request header scan yields; the proxy's per-request object implements it. */
export interface ScannedRequest {
  /** The request's host: an absolute-form target's authority, else the Host header as sent (port included). */
  host: string | undefined;
  /** More than one Host header: refused (400), since proxies and apps may read different ones. */
  duplicateHost: boolean;
  requestId: string;
  /** True when a body follows the headers (non-zero Content-Length or any Transfer-Encoding). */
  hasBody: boolean;
  /** True when the body comes in chunks of unknown total length (Transfer-Encoding). */
  chunkedBody: boolean;
  /** Flat [name, value, ...] list to send to the backend. */
  headers: string[];
}

/** A scan target with nothing found yet (scanRequestHeaders fills it). */
export function emptyScan(): ScannedRequest {
  return { host: undefined, duplicateHost: false, requestId: '', hasBody: false, chunkedBody: false, headers: [] };
}

const FORWARD = 0;
const DROP = 1;
const HOST = 2;
const FORWARDED_FOR = 3;
const REQUEST_ID = 4;
const CONNECTION = 5;
const CONTENT_LENGTH = 6;
const TRANSFER_ENCODING = 7;
const UPGRADE = 8;

// Expect is answered by our own server (100 Continue), so it is not forwarded.
// Forwarded-* headers, Forwarded and X-Real-IP from the client are replaced, never trusted.
const REQUEST_KINDS: ReadonlyMap<string, number> = new Map([
  ['host', HOST],
  ['connection', CONNECTION],
  ['keep-alive', DROP],
  ['te', DROP],
  ['trailer', DROP],
  ['transfer-encoding', TRANSFER_ENCODING],
  ['upgrade', UPGRADE],
  ['expect', DROP],
  ['content-length', CONTENT_LENGTH],
  ['x-forwarded-for', FORWARDED_FOR],
  ['x-forwarded-proto', DROP],
  ['x-forwarded-host', DROP],
  ['x-forwarded-port', DROP],
  ['forwarded', DROP],
  ['x-real-ip', DROP],
  ['x-request-id', REQUEST_ID],
]);

const RESPONSE_DROPPED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-request-id',
]);

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,200}$/;
// Connection tokens that do not name a header to drop; Host is kept so a
// client cannot strip it from what the backend sees.
const CONNECTION_KEPT: ReadonlySet<string> = new Set(['keep-alive', 'close', 'upgrade', 'host']);

/**
 * Fills `target` from the client's raw headers. For an upgrade request the
 * Connection and Upgrade headers are kept, since they are the request itself.
 * `authority` (of an absolute-form target) replaces the Host header, as
 * RFC 9112 §3.2.2 asks of a proxy.
 */
export function scanRequestHeaders(
  raw: readonly string[],
  target: ScannedRequest,
  clientIp: string,
  forwardedPort: string,
  proto: 'http' | 'https',
  upgrade: boolean,
  authority?: string,
): void {
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let connection: string | undefined;
  let chunked = false;
  let contentLength: string | undefined;
  let hostHeader: string | undefined;
  target.duplicateHost = false;
  target.requestId = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    const kind = REQUEST_KINDS.get(lower) ?? (lower.startsWith('proxy-') ? DROP : FORWARD);
    switch (kind) {
      case FORWARD:
        out.push(name, value);
        break;
      case HOST:
        if (hostHeader !== undefined) target.duplicateHost = true;
        hostHeader = value;
        break;
      case FORWARDED_FOR:
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case REQUEST_ID:
        if (target.requestId === '' && SANE_REQUEST_ID.test(value)) target.requestId = value;
        break;
      case CONNECTION:
        connection = connection === undefined ? value : `${connection}, ${value}`;
        if (upgrade) out.push(name, value);
        break;
      case UPGRADE:
        if (upgrade) out.push(name, value);
        break;
      case CONTENT_LENGTH:
        contentLength = value;
        out.push(name, value);
        break;
      case TRANSFER_ENCODING:
        chunked = true;
        break;
    }
  }
  if (target.requestId === '') target.requestId = randomUUID();
  const host = authority ?? hostHeader;
  target.host = host;
  if (host !== undefined) out.unshift('Host', host); // first, where clients put it
  if (connection !== undefined && !upgrade) dropConnectionListed(out, connection);
  if (chunked) {
    // A chunked body has no length: Content-Length beside it is a lie
    // (RFC 9112 §6.3). The body goes to the backend in chunked encoding:
    // re-framed by the upstream connection for a plain request, as the
    // client's raw bytes through an upgrade tunnel.
    if (contentLength !== undefined) dropHeader(out, 'content-length');
    out.push('Transfer-Encoding', 'chunked');
  }
  out.push(
    'X-Forwarded-For',
    forwardedFor === undefined ? clientIp : `${forwardedFor}, ${clientIp}`,
    'X-Forwarded-Proto',
    proto,
    'X-Forwarded-Port',
    forwardedPort,
    'X-Request-Id',
    target.requestId,
  );
  out.push('X-Real-IP', clientIp, 'Forwarded', forwardedElement(clientIp, host, proto));
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  target.chunkedBody = chunked;
  target.hasBody = chunked || (contentLength !== undefined && contentLength !== '0');
  target.headers = out;
}

/** What an app's HTTPS responses carry with HSTS on: a year, as browsers' preload lists ask at least. */
export const HSTS_VALUE = 'max-age=31536000';

/**
 * The backend's response headers ([name, value, ...] as sent) for writeHead,
 * minus hop-by-hop ones, plus our X-Request-Id, in one pass; with `hsts`,
 * our Strict-Transport-Security replaces the app's.
 */
export function responseHeaders(raw: readonly string[], requestId: string, hsts = false): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (RESPONSE_DROPPED.has(lower) || lower.startsWith('proxy-') || (hsts && lower === 'strict-transport-security')) {
      if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      continue;
    }
    out.push(name, value);
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  out.push('X-Request-Id', requestId);
  if (hsts) out.push('Strict-Transport-Security', HSTS_VALUE);
  return out;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** RFC 7239: `for=<client>;host=<host>;proto=http`, quoting what is not a token (IPv6, host:port). */
function forwardedElement(clientIp: string, host: string | undefined, proto: string): string {
  const quoted = (v: string) => (TOKEN.test(v) ? v : `"${v.replace(/[\\"]/g, '\\$&')}"`);
  const forIp = clientIp.includes(':') ? `"[${clientIp}]"` : quoted(clientIp);
  return host === undefined ? `for=${forIp};proto=${proto}` : `for=${forIp};host=${quoted(host)};proto=${proto}`;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)/i;

/**
 * The request target as the backend gets it: origin form, and the authority
 * of an absolute-form target (which routes the request, RFC 9112 §3.2.2).
 * Null for a target that is neither (refused with 400).
 */
export function originForm(url: string): { path: string; authority: string | undefined } | null {
  if (url.charCodeAt(0) === 47 /* / */ || url === '*') return { path: url, authority: undefined };
  const match = ABSOLUTE_FORM.exec(url);
  if (match === null || match[1] === '') return null;
  const rest = match[2] ?? '';
  return { path: rest.startsWith('/') ? rest : `/${rest}`, authority: match[1] };
}

/** The client address as it should appear in X-Forwarded-For. */
export function clientAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/** Request line and headers of an upgrade request, ready to write to a raw socket. */
export function serializeRequestHead(method: string, url: string, headers: readonly string[]): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

// RFC 9110 §7.6.1: headers named in Connection are hop-by-hop too.
function dropConnectionListed(headers: string[], connection: string): void {
  // The usual values name no header: skip the split on every request.
  if (CONNECTION_KEPT.has(connection) || CONNECTION_KEPT.has(connection.toLowerCase())) return;
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name.length !== 0 && !CONNECTION_KEPT.has(name)) dropHeader(headers, name);
  }
}

function dropHeader(headers: string[], lowerName: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() === lowerName) headers.splice(i, 2);
  }
}
