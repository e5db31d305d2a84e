// The two smart-HTTP services, run as `git upload-pack|receive-pack
// --stateless-rpc` through exec: the ref advertisement (GET info/refs) and
// one request/response exchange (POST). Protocol v0 only (no GIT_PROTOCOL is
// passed), which every git client speaks.

import type { Readable } from 'node:stream';
import { type ProcessExit, type ProcessHandle, spawnProcess } from '../exec/index.ts';
import { FLUSH_PKT, pktLine } from './git-pkt-line.ts';
import { gitEnv } from './git-repo.ts';

export const GIT_SERVICES = ['git-upload-pack', 'git-receive-pack'] as const;
export type GitService = (typeof GIT_SERVICES)[number];

export function isGitService(value: unknown): value is GitService {
  return GIT_SERVICES.includes(value as GitService);
}

/** Starts `git <service> --stateless-rpc`, its stdout left raw for the caller. */
export function startService(
  reposDir: string,
  repo: string,
  service: GitService,
  options: { stdin?: Readable; advertise?: boolean } = {},
): ProcessHandle {
  const argv = ['git', service.slice(4), '--stateless-rpc', ...(options.advertise ? ['--advertise-refs'] : []), repo];
  return spawnProcess(argv, {
    env: gitEnv(reposDir),
    rawStdout: true,
    ...(options.stdin ? { stdin: options.stdin } : {}),
  });
}

/** Reads a process's whole raw stdout and waits for its exit. */
export async function collectOutput(handle: ProcessHandle): Promise<{ output: Buffer; exit: ProcessExit }> {
  const chunks: Buffer[] = [];
  const read = (async () => {
    if (handle.stdout) for await (const chunk of handle.stdout) chunks.push(chunk as Buffer);
  })();
  const [exit] = await Promise.all([handle.exited, read]);
  return { output: Buffer.concat(chunks), exit };
}

/** The body of GET info/refs?service=…: a service header, then the advertisement. */
export async function advertiseRefs(reposDir: string, repo: string, service: GitService): Promise<Buffer> {
  const { output, exit } = await collectOutput(startService(reposDir, repo, service, { advertise: true }));
  if (exit.code !== 0) throw new Error(`git ${service} --advertise-refs failed (${exit.code ?? exit.signal})`);
  return Buffer.concat([pktLine(`# service=${service}\n`), FLUSH_PKT, output]);
}
