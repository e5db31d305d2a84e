// The benchmarks' app: no build, Procfile `web` + a postdeploy hook, packed
// as the tar.gz the deployments API takes; and a client that deploys it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { FINAL_STATUSES } from '../src/core/lifecycle.ts';
import { TOKEN } from '../test/helpers/slipway.ts';

const SERVER = `require('node:http').createServer((q, s) => s.end(process.env.LABEL || 'ok')).listen(Number(process.env.PORT));\n`;

export async function appArchive(hook: string): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-app-'));
  fs.writeFileSync(path.join(dir, 'Procfile'), `web: node server.js\npostdeploy: ${hook}\n`);
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
  const file = path.join(dir, 'app.tar.gz');
  await create({ gzip: true, cwd: dir, file, portable: true }, ['Procfile', 'server.js']);
  const buf = fs.readFileSync(file);
  fs.rmSync(dir, { recursive: true, force: true });
  return buf;
}

export interface FinalDeployment {
  readonly id: string;
  readonly status: string;
  readonly steps: readonly { name: string; started_at: string; finished_at: string | null }[];
}

/** Deploys and polls every `pollMs` until a final status; resolves with the deployment as the API shows it then. */
export async function deployUntilFinal(
  apiUrl: string,
  app: string,
  archive: Buffer,
  pollMs = 10,
): Promise<FinalDeployment> {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const res = await fetch(`${apiUrl}/api/apps/${app}/deployments`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/gzip' },
    body: archive,
  });
  const created = (await res.json()) as { id?: string };
  if (created.id === undefined) throw new Error(`deployment refused: ${JSON.stringify(created)}`);
  for (;;) {
    const d = (await (
      await fetch(`${apiUrl}/api/apps/${app}/deployments/${created.id}`, { headers })
    ).json()) as FinalDeployment;
    if ((FINAL_STATUSES as ReadonlySet<string>).has(d.status)) return d;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Deploys and polls until a final status; resolves with it. */
export async function deploy(apiUrl: string, app: string, archive: Buffer): Promise<string> {
  return (await deployUntilFinal(apiUrl, app, archive)).status;
}
