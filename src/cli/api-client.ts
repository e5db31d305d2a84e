// The CLI's only way to the server: HTTP with the bearer token. API errors
// arrive as `{error: {code, message}}` and become CliErrors with that code.

import { Readable } from 'node:stream';
import { CliError } from './cli-error.ts';
import type { Credentials } from './credentials.ts';

/** node's codes for a server certificate it cannot verify (a private CA, a self-signed one, a wrong name). */
const TLS_TRUST_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

export interface RequestOptions {
  readonly json?: unknown;
  readonly body?: Readable;
  readonly contentType?: string;
  readonly contentLength?: number;
  readonly accept?: string;
}

export class ApiClient {
  readonly #credentials: Credentials;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, options);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T;
  }

  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#credentials.token}` };
    let body: string | ReadableStream | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.body) {
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
      if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
      body = Readable.toWeb(options.body) as ReadableStream;
    }
    if (options.accept) headers.accept = options.accept;
    let res: Response;
    try {
      res = await fetch(`${this.#credentials.url}${path}`, {
        method,
        headers,
        body,
        ...(options.body ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (TLS_TRUST_ERRORS.has(cause?.code ?? ''))
        throw new CliError(
          'cli.unreachable',
          `cannot reach Slipway at ${this.#credentials.url}: its certificate is not trusted (${cause?.code}). ` +
            'For a private CA, run the CLI with NODE_EXTRA_CA_CERTS=<the CA certificate file> (docs/https.md)',
        );
      throw new CliError(
        'cli.unreachable',
        `cannot reach Slipway at ${this.#credentials.url} (${cause?.code ?? cause?.message ?? (err as Error).message}); is \`slipway server\` running?`,
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let error: { code?: string; message?: string } | undefined;
    try {
      error = JSON.parse(text).error;
    } catch {
      // not a Slipway error body (a proxy in between?): report the status below
    }
    throw new CliError(error?.code ?? 'internal', error?.message ?? `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }

  /** Follows a server-sent event stream (GET, or `method` with a body) until it ends. */
  async events(
    path: string,
    onEvent: (event: string, data: string) => void,
    options: RequestOptions & { method?: string } = {},
  ): Promise<void> {
    const res = await this.raw(options.method ?? 'GET', path, { ...options, accept: 'text/event-stream' });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
          else if (line === 'data:') data.push('');
        }
        if (data.length > 0) onEvent(event, data.join('\n'));
        end = buffer.indexOf('\n\n');
      }
    }
  }
}
