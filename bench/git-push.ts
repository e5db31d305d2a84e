// git push against `slipway deploy` (issue 17, item 7): the same app and the
// same one-line change, deployed end to end by the real git client (remote
// and credential helper set up by `slipway git:remote`) and by the real CLI
// from the same checkout, alternating, several runs each, median. Also the
// credential helper alone, as git runs it (`get`, then `store` after a
// successful push). Runtime: the server's default (sandbox when this host
// runs it). Each node start here pays NODE_EXTRA_CA_CERTS when it is set.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { runProcess } from '../src/exec/index.ts';
import { commitAll, gitUserEnv } from '../test/helpers/git-fixture.ts';
import { BIN, fixtureCopy, startSlipway } from '../test/helpers/slipway.ts';
import { median } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const HELPER_RUNS = Number(process.env.BENCH_HELPER_RUNS ?? 15);
const APP = 'pushbench';

const slipway = await startSlipway({ args: ['--boot-timeout', '30s'] });
try {
  const env = gitUserEnv(slipway);
  const dir = fixtureCopy('web-worker-hook', { Procfile: 'web: node server.js\npostdeploy: true\n' });
  await commitAll(dir, 'first');
  const run = async (argv: string[], input?: string): Promise<number> => {
    const out: string[] = [];
    const t0 = performance.now();
    const result = await runProcess(argv, {
      cwd: dir,
      env,
      onLine: (_s, line) => out.push(line),
      timeoutMs: 120_000,
      ...(input === undefined ? {} : { stdin: Readable.from([input]) }),
    });
    const ms = performance.now() - t0;
    if (result.code !== 0) throw new Error(`${argv.join(' ')} exited ${result.code}:\n${out.join('\n')}`);
    return ms;
  };
  await run([BIN, 'apps:create', APP]);
  await run([BIN, 'git:remote', '-a', APP]);
  await run(['git', 'push', '-q', 'slipway', 'main']); // warm-up: the first deployment and the repository
  /** created → finished of the app's latest deployment, as the server recorded it. */
  const lastDeployment = async (): Promise<number> => {
    const { json } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
    const [d] = json as { status: string; created_at: string; finished_at: string }[];
    if (d?.status !== 'success') throw new Error(`deployment ${d?.status}`);
    return Date.parse(d.finished_at) - Date.parse(d.created_at);
  };
  const runs = {
    push: [] as number[],
    pushed: [] as number[],
    floor: [] as number[],
    floorDeployed: [] as number[],
    deploy: [] as number[],
    deployed: [] as number[],
  };
  // The same push with a helper that costs nothing (the shell echoes the token): what is left is git's and the server's.
  const shellHelper = [
    '-c',
    'credential.helper=',
    '-c',
    'credential.helper=!f() { echo username=slipway; echo password=$SLIPWAY_TOKEN; }; f',
  ];
  const commitChange = async (label: string) => {
    fs.appendFileSync(path.join(dir, 'server.js'), `// ${label}\n`);
    await run(['git', 'commit', '-q', '-am', label]);
  };
  for (let i = 0; i < RUNS; i++) {
    await commitChange(`change ${i}`);
    runs.deploy.push(await run([BIN, 'deploy', '.', '-a', APP]));
    runs.deployed.push(await lastDeployment());
    await commitChange(`pushed change ${i}`);
    runs.push.push(await run(['git', 'push', '-q', 'slipway', 'main']));
    runs.pushed.push(await lastDeployment());
    await commitChange(`pushed change ${i}, shell helper`);
    runs.floor.push(await run(['git', ...shellHelper, 'push', '-q', 'slipway', 'main']));
    runs.floorDeployed.push(await lastDeployment());
  }
  // The helper as git runs it: through `git credential`, which reads the remote's helper configuration.
  const helpers = { get: [] as number[], store: [] as number[] };
  const request = `protocol=http\nhost=${new URL(slipway.apiUrl).host}\npath=git/${APP}.git\n\n`;
  for (let i = 0; i < HELPER_RUNS; i++) {
    helpers.get.push(await run(['git', 'credential', 'fill'], request));
    helpers.store.push(
      await run(['git', 'credential', 'approve'], `${request.trim()}\nusername=slipway\npassword=x\n\n`),
    );
  }
  const figure = (values: number[]) =>
    `${median(values).toFixed(0).padStart(5)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
  const extra = process.env.NODE_EXTRA_CA_CERTS ? ', NODE_EXTRA_CA_CERTS set (each node start ~50 ms slower)' : '';
  const over = (totals: number[], own: number[]) => totals.map((t, i) => t - (own[i] ?? 0));
  console.log(`git push against slipway deploy: the same app and change, ${RUNS} runs each, median (min–max)${extra}`);
  console.log(`  git push slipway main, end to end                    ${figure(runs.push)}`);
  console.log(`    the deployment it triggers (created → finished)    ${figure(runs.pushed)}`);
  console.log(`    the push beyond its deployment                     ${figure(over(runs.push, runs.pushed))}`);
  console.log(`  git push, a helper that costs nothing (the floor)    ${figure(runs.floor)}`);
  console.log(`    the push beyond its deployment                     ${figure(over(runs.floor, runs.floorDeployed))}`);
  console.log(`  slipway deploy ., end to end                         ${figure(runs.deploy)}`);
  console.log(`    the deployment it triggers (created → finished)    ${figure(runs.deployed)}`);
  console.log(`    the command beyond its deployment                  ${figure(over(runs.deploy, runs.deployed))}`);
  console.log(`  credential helper, git credential fill (get)         ${figure(helpers.get)}`);
  console.log(`  credential helper, git credential approve (store)    ${figure(helpers.store)}`);
} finally {
  await slipway.stop();
}
