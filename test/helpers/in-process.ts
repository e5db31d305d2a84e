// A Slipway server started inside the test process (process runtime, real
// SQLite and router in a temp home), for tests that need its fastify
// instance (`inject()`, the route table) or many cheap requests.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadSettings, type SettingsInput } from '../../src/config/settings.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { TOKEN } from './slipway.ts';

export interface InProcessServer extends RunningServer {
  readonly home: string;
  readonly apiPort: number;
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
    async stop() {
      await server.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
