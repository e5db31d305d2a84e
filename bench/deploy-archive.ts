// The benchmarks' app: no build, Procfile `web` + a postdeploy hook, packed
// as the tar.gz the deployments API takes; and a client that deploys it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { TOKEN } from '../test/helpers/slipway.ts';

const SERVER = `require('node:http').createServer((q, s) => s.end(process.env.LABEL || 'ok')).listen(Number(process.env.PORT));\n`;

/** The app as a tar.gz: `server.js` (default: the 1-line server above) as `web`, `hook` as postdeploy. */
export async function appArchive(hook: string, server = SERVER): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-app-'));
  fs.writeFileSync(path.join(dir, 'Procfile'), `web: node server.js\npostdeploy: ${hook}\n`);
  fs.writeFileSync(path.join(dir, 'server.js'), server);
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

/**
 * Deploys and follows the deployment's log stream, as `slipway deploy` does
 * (each log line to `onLine` as it arrives),
 * until its `end` event; resolves with the deployment as that event carries it.
 */
export async function deployUntilFinal(
  apiUrl: string,
  app: string,
  archive: Buffer,
  onLine?: (line: string) => void,
): Promise<FinalDeployment> {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const res = await fetch(`${apiUrl}/api/apps/${app}/deployments`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/gzip' },
    body: archive,
  });
  const created = (await res.json()) as { id?: string };
  if (created.id === undefined) throw new Error(`deployment refused: ${JSON.stringify(created)}`);
  const url = `${apiUrl}/api/apps/${app}/deployments/${created.id}`;
  const stream = await fetch(`${url}/logs`, { headers: { ...headers, accept: 'text/event-stream' } });
  if (stream.body === null) throw new Error(`no log stream: HTTP ${stream.status}`);
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of stream.body) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const event = buffered.slice(0, end).split('\n');
      buffered = buffered.slice(end + 2);
      if (event[0]?.startsWith('data: ')) for (const line of event) onLine?.(line.slice('data: '.length));
      if (event[0] !== 'event: end') continue;
      return JSON.parse(
        event
          .slice(1)
          .map((line) => line.slice('data: '.length))
          .join('\n'),
      ) as FinalDeployment;
    }
  }
  // The stream ended without its `end` event (a server restart): ask for the record.
  return (await (await fetch(url, { headers })).json()) as FinalDeployment;
}

/** Deploys and follows it to its final status; resolves with that status. */
export async function deploy(apiUrl: string, app: string, archive: Buffer): Promise<string> {
  return (await deployUntilFinal(apiUrl, app, archive)).status;
}
