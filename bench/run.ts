// `npm run bench`: every benchmark in its own process, one after the other;
// figures are printed and appended to BENCHMARKS.md under a heading with the
// date, machine, versions and load (method: "Benchmark suite" section there).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProcess } from '../src/exec/index.ts';
import { baseEnv } from '../test/helpers/slipway.ts';
import { ROOT } from './lib.ts';
import { peerVersions } from './router-peers.ts';
import { wrkVersion } from './wrk.ts';

const BENCHES = [
  'router-throughput',
  'router-https',
  'deploy-overhead',
  'deploy-floor',
  'git-push',
  'sandbox-start',
  'zero-downtime',
  'scale',
  'restart-recovery',
  'buildpack-cache',
  'buildpack-redeploy',
  'addons',
  'swarm-overhead',
];
const only = process.argv.slice(2);

async function capture(argv: string[], timeoutMs: number): Promise<{ code: number | null; lines: string[] }> {
  const lines: string[] = [];
  const result = await runProcess(argv, {
    cwd: ROOT,
    env: baseEnv(),
    onLine: (stream, line) => {
      if (stream === 'stdout') lines.push(line);
      else process.stderr.write(`${line}\n`);
    },
    timeoutMs,
  });
  return { code: result.code, lines };
}

async function versions(): Promise<string> {
  const autocannon = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/autocannon/package.json'), 'utf8'));
  const release = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.release();
  return (
    `${release}, kernel ${os.release()}, Node.js ${process.version}, ${await peerVersions()}, ` +
    `wrk ${await wrkVersion()}, autocannon ${autocannon.version}`
  );
}

const cpus = os.cpus();
const loadBefore = os.loadavg()[0] ?? 0;
const started = new Date();
const sections: string[] = [];
for (const name of BENCHES) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stdout.write(`--- ${name}\n`);
  const t0 = Date.now();
  const { code, lines } = await capture([process.execPath, '--import', 'tsx', `bench/${name}.ts`], 300_000);
  const text = code === 0 ? lines.join('\n') : `${lines.join('\n')}\n(${name} failed with exit code ${code})`;
  process.stdout.write(`${text}\n(${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  sections.push(text);
}
const loadAfter = os.loadavg()[0] ?? 0;
// The benchmarks load the machine themselves, so only the load before them says whether other work ran.
const busy = loadBefore > cpus.length / 2;
const heading =
  `### Run of ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC\n\n` +
  `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB; ${await versions()}.\n` +
  `Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (the benchmarks' own load)` +
  (busy
    ? ': **measured on a busy machine** (other work was running), so figures are noisier and lower than on an idle one.\n'
    : '.\n');
fs.appendFileSync(path.join(ROOT, 'BENCHMARKS.md'), `\n${heading}\n\`\`\`\n${sections.join('\n\n')}\n\`\`\`\n`);
process.stdout.write('appended to BENCHMARKS.md\n');
