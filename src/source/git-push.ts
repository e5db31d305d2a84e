// A push (POST git-receive-pack): `git receive-pack --stateless-rpc` stores
// the objects and moves the refs; its answer is held back while the deploy
// branch's new commit is deployed and the deployment log is streamed to the
// pusher on side band 2 (`remote:` lines). If the deployment fails, the branch
// is put back where it was and the report-status says `ng <ref> deployment
// failed`, so `git push` exits non-zero, as on Heroku and Dokku; the objects
// the rejected push stored are then deleted.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  encodeReportStatus,
  FLUSH_PKT,
  PktLineReader,
  packetLines,
  pktLine,
  readPackets,
  rejectRefs,
  sideband,
} from './git-pkt-line.ts';
import {
  type CommitInfo,
  commitInfo,
  diffBranches,
  exportCommit,
  pruneUnreachable,
  type RefUpdate,
  readBranches,
  restoreBranch,
  setHead,
} from './git-repo.ts';
import { collectOutput, startService } from './git-service.ts';

export const DEPLOY_BRANCH = 'refs/heads/main';
export const FALLBACK_BRANCH = 'refs/heads/master';
const KEEPALIVE = pktLine(Buffer.from([1]));
const KEEPALIVE_MS = 15_000;

export interface PushDeployer {
  /** Deploys the archive (the file becomes the deployer's) and resolves once the deployment ended. */
  deploy(
    archive: string,
    commit: CommitInfo & { readonly ref: string },
    onLine: (line: string) => void,
  ): Promise<{ readonly ok: boolean; readonly summary: string }>;
  /** The commit SHA of the release serving now, if any. */
  currentCommit(): Promise<string | null>;
}

export interface PushOptions {
  readonly reposDir: string;
  readonly repo: string;
  readonly spoolDir: string;
  readonly body: Readable;
  /** Serialises receive-pack runs per app, so the ref diff is this push's own. */
  readonly lock: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface ReceivedPush {
  /** Writes the rest of the answer (progress, the deployment's log, the report) through `write`. */
  finish(deployer: PushDeployer, write: (chunk: Buffer) => void): Promise<void>;
}

interface PackAnswer {
  readonly sideband: boolean;
  /** Side-band packets of receive-pack's own (progress, fatal errors), forwarded as they are. */
  readonly passthrough: Buffer[];
  readonly report: string[];
}

/** Runs receive-pack over the request body. Throws (nothing written yet) when the body fails, e.g. too large. */
export async function receivePush(options: PushOptions): Promise<ReceivedPush> {
  const { reposDir, repo } = options;
  let bodyError: Error | undefined;
  options.body.on('error', (err) => {
    bodyError = err;
  });
  const { answer, updates, hasMain, exitCode, heads } = await options.lock(async () => {
    const before = await readBranches(reposDir, repo);
    const service = startService(reposDir, repo, 'git-receive-pack', { stdin: options.body });
    const { output, exit } = await collectOutput(service);
    if (bodyError) throw bodyError;
    const after = await readBranches(reposDir, repo);
    return {
      answer: parseAnswer(output),
      updates: diffBranches(before, after),
      hasMain: after.has(DEPLOY_BRANCH),
      exitCode: exit.code,
      heads: after,
    };
  });
  return {
    async finish(deployer, write) {
      for (const packet of answer.passthrough) write(packet);
      const progress = (line: string) => {
        if (answer.sideband) write(sideband(2, `${line}\n`));
      };
      let report = answer.report;
      const target = exitCode === 0 && report[0] === 'unpack ok' ? deployTarget(updates, hasMain) : null;
      for (const u of updates) {
        if (u !== target && u.newSha !== null) progress(`-----> Stored ${u.ref} (only main deploys)`);
      }
      if (target?.newSha) {
        // An empty data packet now and then, as receive-pack does, so proxies don't drop a quiet push.
        const keepalive = answer.sideband ? setInterval(() => write(KEEPALIVE), KEEPALIVE_MS) : undefined;
        const pushed = { ...target, newSha: target.newSha, head: heads.get(target.ref) };
        const ok = await deployPush(options, deployer, pushed, progress).finally(() => clearInterval(keepalive));
        if (!ok) {
          report = rejectRefs(report, new Set([target.ref]), 'deployment failed');
          progress('-----> Removing the rejected objects');
          await options.lock(() => pruneUnreachable(reposDir, repo));
        }
      }
      if (report.length === 0) return;
      write(
        answer.sideband
          ? Buffer.concat([sideband(1, encodeReportStatus(report)), FLUSH_PKT])
          : encodeReportStatus(report),
      );
    },
  };
}

/** main when it moved; master when it moved and there is no main at all. */
export function deployTarget(updates: readonly RefUpdate[], hasMain = false): RefUpdate | null {
  const main = updates.find((u) => u.ref === DEPLOY_BRANCH && u.newSha !== null);
  if (main) return main;
  if (hasMain || updates.some((u) => u.ref === DEPLOY_BRANCH)) return null;
  return updates.find((u) => u.ref === FALLBACK_BRANCH && u.newSha !== null) ?? null;
}

async function deployPush(
  options: PushOptions,
  deployer: PushDeployer,
  target: RefUpdate & { newSha: string; head: CommitInfo | undefined },
  progress: (line: string) => void,
): Promise<boolean> {
  const { reposDir, repo } = options;
  const short = target.newSha.slice(0, 7);
  if ((await deployer.currentCommit()) === target.newSha) {
    progress(`-----> ${short} is already deployed: nothing to deploy`);
    return true;
  }
  let outcome: { ok: boolean; summary: string };
  const archive = path.join(options.spoolDir, `git-${randomBytes(8).toString('hex')}.tar.gz`);
  try {
    const commit = target.head?.sha === target.newSha ? target.head : await commitInfo(reposDir, repo, target.newSha);
    await fs.promises.mkdir(options.spoolDir, { recursive: true, mode: 0o700 });
    await exportCommit(reposDir, repo, target.newSha, archive);
    progress(`-----> Deploying ${short} (${target.ref.replace('refs/heads/', '')}): ${commit.subject}`);
    outcome = await deployer.deploy(archive, { ...commit, ref: target.ref }, progress);
  } catch (err) {
    await fs.promises.rm(archive, { force: true }); // still ours unless a deployment took it
    outcome = { ok: false, summary: `could not deploy ${short}: ${(err as Error).message}` };
  }
  if (outcome.ok) {
    await setHead(reposDir, repo, target.ref);
    progress(`-----> ${outcome.summary}`);
    return true;
  }
  const restored = await restoreBranch(reposDir, repo, target);
  progress(`-----> ${outcome.summary}`);
  progress(
    restored
      ? `-----> Push rejected: ${target.ref.replace('refs/heads/', '')} stays at ${target.oldSha?.slice(0, 7) ?? '(none)'}`
      : '-----> Push rejected (the branch has moved on since: left as it is)',
  );
  return false;
}

function parseAnswer(output: Buffer): PackAnswer {
  const packets = readPackets(output);
  const first = packets.find((p) => p.kind === 'data');
  const band = first?.kind === 'data' ? first.payload[0] : undefined;
  if (band === undefined || band > 3) return { sideband: false, passthrough: [], report: packetLines(packets) };
  const passthrough: Buffer[] = [];
  const data: Buffer[] = [];
  for (const p of packets) {
    if (p.kind !== 'data') continue;
    if (p.payload[0] === 1) data.push(p.payload.subarray(1));
    else passthrough.push(sideband(p.payload[0] === 3 ? 3 : 2, p.payload.subarray(1)));
  }
  return { sideband: true, passthrough, report: packetLines(readPackets(Buffer.concat(data))) };
}

/**
 * Answers a push without storing anything (the server refuses it, e.g. its
 * disk is nearly full): reads the pushed ref updates, discards the pack, and
 * answers as receive-pack would, every ref rejected with `reason` and
 * `message` shown as `remote:` lines, so that `git push` says why and exits
 * non-zero. Nothing of the body is written anywhere.
 */
export async function refusePush(body: Readable, message: string, reason: string): Promise<Buffer> {
  const reader = new PktLineReader();
  const commands: string[] = [];
  let done = false;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (done) continue; // the pack: read and dropped
      for (const packet of reader.push(chunk)) {
        if (packet.kind !== 'data') {
          done = true;
          break;
        }
        commands.push(packet.payload.toString('utf8').replace(/\n$/, ''));
      }
    }
  } catch {
    // A body that breaks off still gets its answer, for what was read of it.
  }
  const capabilities = new Set((commands[0]?.split('\0')[1] ?? '').split(' '));
  const refs = commands.map((line) => line.split('\0')[0]?.split(' ')[2]).filter((ref) => ref !== undefined);
  const report = encodeReportStatus([`unpack ${reason}`, ...refs.map((ref) => `ng ${ref} ${reason}`)]);
  if (!capabilities.has('side-band-64k') && !capabilities.has('side-band')) return report;
  const lines = message.split('\n').map((line) => `${line}\n`);
  return Buffer.concat([sideband(2, lines.join('')), sideband(1, report), FLUSH_PKT]);
}
