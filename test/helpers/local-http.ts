// Local HTTP servers (loopback only) standing in for the outside world:
// a git server (smart HTTP through `git http-backend`, like GitHub's clone
// URLs), and a recording server (GitHub's API for commit statuses, or a plain
// file host for tarballs).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnProcess } from '../../src/exec/index.ts';
import { baseEnv } from './slipway.ts';

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface LocalServer {
  readonly url: string;
  /** Every request seen, in arrival order. */
  readonly requests: Recorded[];
  close(): Promise<void>;
}

/** A loopback port nothing listens on (for now). */
export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Listens with an accept queue of one, never accepts, and fills the queue itself: the
// kernel then drops every further SYN, so connecting hangs as to a host that is lost.
const SILENT_LISTENER = `
import socket, sys, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(0)
port = server.getsockname()[1]
held = []
while True:
    client = socket.socket()
    client.settimeout(0.3)
    try:
        client.connect(("127.0.0.1", port))
        held.append(client)
    except socket.timeout:
        break
print(port, flush=True)
sys.stdin.read()
`;

/** A loopback port where connecting never completes (SYNs dropped), until `close`. */
export async function silentPort(): Promise<{ port: number; close(): Promise<void> }> {
  let resolvePort: (port: number) => void = () => {};
  const ready = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  const child = spawnProcess(['/usr/bin/python3', '-c', SILENT_LISTENER], {
    env: baseEnv(),
    stdin: 'pipe',
    onLine: (_stream, line) => {
      if (/^\d+$/.test(line)) resolvePort(Number(line));
    },
  });
  const port = await Promise.race([ready, child.exited.then(() => Promise.reject(new Error('python3 exited')))]);
  return { port, close: () => child.stop(0).then(() => {}) };
}

async function listen(server: http.Server, requests: Recorded[]): Promise<LocalServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers from `routes` (path → status and body); records every request with its body. */
export function startRecorder(
  routes: (req: Recorded) => { status: number; body?: Buffer | string; type?: string } = () => ({ status: 201 }),
): Promise<LocalServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const answer = routes(recorded);
      res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' });
      res.end(answer.body ?? '{}');
    });
  });
  return listen(server, requests);
}

/** Serves the bare repositories under `root` (`<root>/<owner>/<repo>.git`) over smart HTTP. */
export function startGitServer(root: string): Promise<LocalServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
    const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : '');
    const cgi = spawnProcess(['git', 'http-backend'], {
      env: baseEnv({
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: header('content-type'),
        HTTP_CONTENT_ENCODING: header('content-encoding'),
        GIT_PROTOCOL: header('git-protocol'),
        REMOTE_ADDR: '127.0.0.1',
      }),
      stdin: req,
      rawStdout: true,
    });
    let head = Buffer.alloc(0);
    let started = false;
    cgi.stdout?.on('data', (chunk: Buffer) => {
      if (started) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      started = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    void cgi.exited.then(() => {
      if (!started) res.writeHead(500);
      res.end();
    });
  });
  return listen(server, requests);
}
