// Runs one build step (`npm ci`, `npm run build`) to completion in a sandbox:
// the app's uid, its own cgroup, the host system read-only, and only the
// build directory and the app's build cache writable, at the same paths as on
// the host (so the build environment needs no translation). Network: its own
// namespace, like a container's: out through NAT (registries), not to the host.
// The build's workspace (buildpacks, ENV_DIR), when it has one, is read-only.

import { randomBytes } from 'node:crypto';
import type { ContainerLimits } from '../../core/container-size.ts';
import type { RunOptions, RunResult } from '../../exec/index.ts';
import type { BuildLayer } from './build-layer.ts';
import { killQuietly } from './cgroup-v1.ts';
import type { Sandbox } from './sandbox.ts';
import { decodeExit, type SetupMount } from './sandbox-argv.ts';

export interface SandboxedRunOptions extends RunOptions {
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly limits: ContainerLimits;
  readonly buildDir: string;
  readonly cacheDir: string;
  /** Seen read-only at the same path (the buildpacks and ENV_DIR), when set. */
  readonly workspace?: string | undefined;
  /** Bounds what the step writes (build-layer.ts); without it, the directories are bound from the host. */
  readonly layer?: BuildLayer | null;
}

export async function runSandboxed(
  sandbox: Sandbox,
  argv: readonly string[],
  options: SandboxedRunOptions,
): Promise<RunResult> {
  const { mountPoints } = sandbox;
  const setupMounts: SetupMount[] = options.layer
    ? await options.layer.mounts()
    : [
        { kind: 'bind', source: options.buildDir, target: mountPoints.build },
        { kind: 'bind', source: options.cacheDir, target: mountPoints.cache },
      ];
  // Bound as root first (the home's builds folder is root's alone), then read-only for the app's user.
  const { workspace } = options;
  if (workspace !== undefined) setupMounts.push({ kind: 'bind', source: workspace, target: mountPoints.workspace });
  const { proc, cgroup, destroy } = await sandbox.spawn(
    `build-${randomBytes(6).toString('hex')}`,
    options.limits,
    {
      uid: options.uid,
      gid: options.gid,
      setupMounts,
      binds: [
        [mountPoints.build, options.buildDir],
        [mountPoints.cache, options.cacheDir],
      ],
      roBinds: workspace === undefined ? [] : [[mountPoints.workspace, workspace]],
      cwd: options.cwd,
      hostname: 'build',
      argv,
    },
    { env: options.env, onLine: options.onLine },
  );
  let timedOut = false;
  let aborted = false;
  const killAll = async () => {
    for (const pid of await cgroup.pids().catch(() => [])) killQuietly(pid, 'SIGKILL');
  };
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          void killAll();
        }, options.timeoutMs);
  const onAbort = () => {
    aborted = true;
    void killAll();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await proc.exited;
    return { ...exit, ...decodeExit(exit.code, exit.signal), timedOut, aborted };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await destroy();
  }
}
