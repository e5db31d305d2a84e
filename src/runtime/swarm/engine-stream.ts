// Streaming requests to dockerd that engine.ts's JSON-in, JSON-out client does
// not cover: a tar stream up (a release's slug into a container) and a log
// stream down (a service's multiplexed stdout and stderr frames).

import http from 'node:http';
import type { Readable } from 'node:stream';
import { API, type Engine, EngineError } from '../docker/engine.ts';

/** Sends `body` (a tar stream) with PUT (or `method`); dockerd's answer, or its message on a non-2xx one. */
export function uploadTar(engine: Engine, requestPath: string, body: Readable, method = 'PUT'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: engine.socket,
        method,
        path: API + requestPath,
        headers: { 'content-type': 'application/x-tar' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8').trim();
          if (status >= 200 && status < 300) return resolve(text);
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {}
          reject(new EngineError(status, `docker: ${message || `HTTP ${status}`}`));
        });
      },
    );
    req.on('error', reject);
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

export type Frame = { readonly stream: 'stdout' | 'stderr'; readonly payload: Buffer };

/** GETs a stream (e.g. `docker save`'s tar); rejects on a non-2xx answer. */
export function downloadStream(engine: Engine, requestPath: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: engine.socket, method: 'GET', path: API + requestPath }, (res) => {
      if ((res.statusCode ?? 0) < 300) return resolve(res);
      res.resume();
      reject(new EngineError(res.statusCode ?? 0, `docker: HTTP ${res.statusCode} for ${requestPath}`));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * GETs a multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, length) and
 * hands each frame on. Settles when the stream ends or `signal` aborts it.
 */
export function readFrames(
  engine: Engine,
  requestPath: string,
  onFrame: (frame: Frame) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: engine.socket, method: 'GET', path: API + requestPath, signal }, (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        res.resume();
        reject(new EngineError(res.statusCode ?? 0, `docker: HTTP ${res.statusCode} for ${requestPath}`));
        return;
      }
      let pending: Buffer = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        while (pending.length >= 8) {
          const length = pending.readUInt32BE(4);
          if (pending.length < 8 + length) break;
          const stream = pending[0] === 2 ? 'stderr' : 'stdout';
          onFrame({ stream, payload: pending.subarray(8, 8 + length) });
          pending = pending.subarray(8 + length);
        }
      });
      res.on('end', () => resolve());
      res.on('error', () => resolve()); // aborted
    });
    req.on('error', (err) => (signal?.aborted ? resolve() : reject(err)));
    req.end();
  });
}
