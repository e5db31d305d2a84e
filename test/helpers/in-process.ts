// A Slipway server started inside the test process (process runtime, real
// SQLite and router in a temp home), for tests that need its fastify
// instance or many cheap requests: the API through `inject()` (no socket,
// where one adds nothing), the CLI through runCli against its real port.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { runCli } from '../../src/cli/main.ts';
import { loadSettings, type SettingsInput } from '../../src/config/settings.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { baseEnv, type CliResult, TOKEN } from './slipway.ts';

export interface InProcessServer extends RunningServer {
  readonly home: string;
  readonly apiPort: number;
  /** The API in process (fastify's inject): JSON in, status and JSON (or text) out. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read API JSON of many shapes
  request(method: string, url: string, body?: unknown, token?: string | null): Promise<{ status: number; json: any }>;
  /** The CLI in process, against this server's API port. */
  cli(args: string[], options?: { token?: string }): Promise<CliResult>;
  stop(): Promise<void>;
}

export async function startInProcess(flags: SettingsInput = {}, env: NodeJS.ProcessEnv = {}): Promise<InProcessServer> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-inproc-'));
  const settings = loadSettings(
    { home, port: 0, routerPort: 0, runtime: 'process', stopGrace: '1s', drainTimeout: '1s', ...flags },
    { SLIPWAY_TOKEN: TOKEN, ...env },
  );
  const server = await startServer(settings, pino({ level: 'silent' }));
  return {
    ...server,
    home,
    apiPort: Number(new URL(server.apiUrl).port),
    async request(method, url, body, token = TOKEN) {
      const res = await server.api.inject({
        method: method as 'GET',
        url,
        headers: {
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      let json: unknown = res.body;
      try {
        json = res.json();
      } catch {
        // plain text endpoints
      }
      return { status: res.statusCode, json };
    },
    async cli(args, options = {}) {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const io = {
        out: (t: string) => stdout.push(t),
        err: (t: string) => stderr.push(t),
        env: baseEnv({ SLIPWAY_URL: server.apiUrl, SLIPWAY_TOKEN: options.token ?? TOKEN, HOME: home }),
        cwd: home,
        color: false,
      };
      const code = await runCli(args, io);
      return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
    },
    async stop() {
      await server.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
