// A minimal client of the Docker Engine API over its unix socket: JSON in,
// JSON out. The driver talks to dockerd this way rather than through the
// `docker` client so that an app's environment goes in a request body (never
// on a command line, where `ps` shows it, and with values of any content).

import http from 'node:http';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** Engine API 1.41 (Docker 20.10, Debian 12's docker.io), understood by every later dockerd. */
export const API = '/v1.41';

export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Engine {
  readonly socket: string;
  /** `body` is sent as JSON; the answer is parsed as JSON (null when empty). Non-2xx statuses throw EngineError. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

export function createEngine(socket: string = DEFAULT_DOCKER_SOCKET): Engine {
  return {
    socket,
    request<T>(method: string, requestPath: string, body?: unknown): Promise<T> {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      return new Promise<T>((resolve, reject) => {
        const req = http.request(
          {
            socketPath: socket,
            method,
            path: API + requestPath,
            headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              const status = res.statusCode ?? 0;
              if (status < 200 || status >= 300) {
                let message = text.trim();
                try {
                  message = (JSON.parse(text) as { message?: string }).message ?? message;
                } catch {}
                reject(new EngineError(status, `docker: ${message || `HTTP ${status}`}`));
                return;
              }
              try {
                resolve((text === '' ? null : JSON.parse(text)) as T);
              } catch {
                resolve(text as T); // plain-text answers (/_ping)
              }
            });
          },
        );
        req.on('error', (err) => reject(new Error(`cannot reach dockerd at ${socket}: ${err.message}`)));
        req.end(payload);
      });
    },
  };
}

/** Null when dockerd answers on `socket`, else why not. */
export async function probeEngine(engine: Engine): Promise<string | null> {
  try {
    await engine.request('GET', '/_ping');
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
