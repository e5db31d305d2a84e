// The `sandbox` runtime driver, the default on Linux: every container runs as
// its app's own uid in new namespaces (bubblewrap), sees its release at /app
// through a private overlayfs layer, and is held in its own cgroups (memory,
// pids, cpu) from its size. The cgroup is also how teardown finds every
// process the container started. Network: its own namespace on the home's
// bridge; the container is reached at its address there (docs/sandbox.md).

import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { type ContainerLimits, limitsOf } from '../../core/container-size.ts';
import { createPortAllocator } from '../allocate-port.ts';
import { containerCommand, preparedContainer } from '../container-command.ts';
import { createContainerRegistry } from '../container-registry.ts';
import { listeningPorts } from '../listening-ports.ts';
import { processEnv } from '../process-env.ts';
import { terminalResizer } from '../resize-terminal.ts';
import type { ContainerExit, ContainerHandle, ContainerSpec, PreparedContainer, RuntimeDriver } from '../types.ts';
import { killQuietly } from './cgroup-v1.ts';
import { prepareLayer } from './container-layer.ts';
import type { PreparedSandbox, Sandbox, SandboxProcess } from './sandbox.ts';
import { decodeExit, type SetupMount } from './sandbox-argv.ts';
import { createVolumeMounts } from './volume-mounts.ts';

export interface SandboxDriverOptions {
  readonly sandbox: Sandbox;
  readonly containersDir: string;
  /** Where volumes' images and mounts live (volume-mounts.ts); default `<containersDir>/../volumes`. */
  readonly volumesDir?: string;
  readonly portRange?: [number, number];
  readonly logger?: Logger;
}

/** Containers started without a user (tests, tools) run as this uid: never root. */
export const FALLBACK_USER = { uid: 65_001, gid: 65_001 } as const;
const APP_DIR = '/app';

export function createSandboxDriver(options: SandboxDriverOptions): RuntimeDriver {
  const { sandbox } = options;
  const containersDir = path.resolve(options.containersDir);
  const ports = createPortAllocator({ range: options.portRange });
  const log = options.logger?.child({ runtime: 'sandbox' });
  const containers = createContainerRegistry();
  const { live } = containers;
  const volumes = createVolumeMounts(
    options.volumesDir ?? path.join(path.dirname(containersDir), 'volumes'),
    sandbox.layers,
  );

  /** Each volume's mount bound (as root) on a mount point of its own, and from there (by bwrap) at its path. */
  async function volumeMounts(spec: ContainerSpec, owner: { uid: number; gid: number }) {
    const list = spec.volumes ?? [];
    if (list.length > sandbox.mountPoints.volumes.length)
      throw new Error(`at most ${sandbox.mountPoints.volumes.length} volumes per container`);
    const dirs = await Promise.all(list.map((volume) => volumes.ensure(volume, owner)));
    return {
      setup: dirs.map(
        (source, i): SetupMount => ({ kind: 'bind', source, target: sandbox.mountPoints.volumes[i] ?? '' }),
      ),
      binds: list.map((volume, i): [string, string] => [sandbox.mountPoints.volumes[i] ?? '', volume.path]),
    };
  }

  /** Port, layer and cgroups; with `early`, the container is spawned too and its command held until start(). */
  async function prepareContainer(spec: ContainerSpec, early: boolean): Promise<PreparedContainer> {
    const port = spec.exposePort ? await ports.allocate() : undefined;
    try {
      containers.throwIfClosed();
      return await prepareWithPort(spec, port, early);
    } catch (err) {
      if (port !== undefined) ports.release(port);
      throw err;
    }
  }

  async function prepareWithPort(
    spec: ContainerSpec,
    port: number | undefined,
    early: boolean,
  ): Promise<PreparedContainer> {
    const { uid, gid } = spec.user ?? FALLBACK_USER;
    const limits: ContainerLimits = spec.limits ?? limitsOf('M');
    const layer = prepareLayer({ sandbox, containersDir, spec, uid, gid, limits });
    let prepared: PreparedSandbox;
    try {
      prepared = await sandbox.prepare(spec.id, limits, layer.ready);
    } catch (err) {
      // A layer that failed cleaned up after itself; one that was made (for a cgroup that failed) goes here.
      if (await layer.ready.then(() => true).catch(() => false)) await layer.remove();
      throw err;
    }
    const discard = async () => {
      await prepared.destroy(layer.remove);
      if (port !== undefined) ports.release(port);
    };
    const spawnOrDiscard = async (held: boolean) => {
      const command = containerCommand(spec, held);
      let started: SandboxProcess;
      try {
        const [setupMounts, mounted] = await Promise.all([layer.mounts(), volumeMounts(spec, { uid, gid })]);
        containers.throwIfClosed();
        started = prepared.spawn(
          {
            uid,
            gid,
            setupMounts: [...setupMounts, ...mounted.setup],
            // The app first: a volume under /app is bound on top of it.
            binds: [[sandbox.mountPoints.app, APP_DIR], ...mounted.binds],
            cwd: APP_DIR,
            hostname: spec.name,
            argv: command.argv,
          },
          { env: processEnv(APP_DIR, spec.env, port), onLine: spec.onLine, onData: spec.onData, stdin: command.stdin },
        );
      } catch (err) {
        await discard();
        throw err;
      }
      const address = port === undefined ? null : { host: prepared.address, port };
      return { handle: track(spec, started, layer.remove, address, held), stdin: started.proc.stdin };
    };
    return preparedContainer(spec, early, spawnOrDiscard, discard);
  }

  /** The handle of a started container; cleans up after it once its processes are gone. */
  function track(
    spec: ContainerSpec,
    started: SandboxProcess,
    removeLayer: () => Promise<void>,
    address: ContainerHandle['address'],
    held: boolean,
  ): ContainerHandle {
    const port = address?.port;
    const { uid } = spec.user ?? FALLBACK_USER;
    const { proc, cgroup } = started;
    const context = { app: spec.app, container: spec.name, id: spec.id };
    let running = true;
    let killedByUs = false;

    const ended = proc.exited.then(async (exit): Promise<ContainerExit> => {
      running = false;
      if (exit.spawnError !== undefined)
        log?.error({ ...context, reason: exit.spawnError }, 'container could not start');
      const decoded = decodeExit(exit.code, exit.signal);
      // The kernel's OOM killer sends SIGKILL; a SIGKILL of our own (stop), or an OOM kill of some
      // child the app survived, is not what ended this container.
      const outOfMemory = decoded.signal === 'SIGKILL' && !killedByUs && (await cgroup.oomKilled().catch(() => false));
      await cgroup.kill().catch(() => {}); // destroy() below retries and reports
      return outOfMemory ? { ...decoded, outOfMemory } : decoded;
    });
    const exited = ended.then(async (result): Promise<ContainerExit> => {
      try {
        // The overlay lived only in the container's mount namespace, gone with its last process.
        await started.destroy(removeLayer);
      } catch (err) {
        log?.error({ ...context, err }, 'could not clean up the container; left in place');
      }
      if (port !== undefined) ports.release(port);
      live.delete(spec.id);
      log?.debug({ ...context, ...result }, 'container exited');
      return result;
    });

    /** SIGTERM to the user's processes: all of the cgroup but bwrap's own monitor and pid-1 reaper. */
    async function terminate(): Promise<void> {
      const outer = proc.pid;
      for (const pid of await cgroup.pids().catch(() => [])) {
        if (pid === outer || (await parentOf(pid)) === outer) continue;
        killQuietly(pid, 'SIGTERM');
      }
    }
    async function killAll(): Promise<void> {
      killedByUs = true;
      // The chain's first processes join the cgroup only once they run: kill its process group too.
      proc.signal('SIGKILL');
      for (const pid of await cgroup.pids().catch(() => [])) killQuietly(pid, 'SIGKILL');
    }

    const handle: ContainerHandle = {
      id: spec.id,
      name: spec.name,
      pid: proc.pid,
      address,
      stdin: held ? null : proc.stdin,
      ...(spec.tty ? { resize: terminalResizer(proc.pid, spec.tty) } : {}),
      listeningPorts: () => (proc.pid === undefined ? [] : listeningPorts(proc.pid)),
      ended,
      exited,
      async stop(graceMs: number) {
        if (!running) return exited;
        if (graceMs > 0) {
          await terminate();
          let timer: NodeJS.Timeout | undefined;
          const graceOver = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs);
          });
          await Promise.race([exited, graceOver]);
          clearTimeout(timer);
        }
        if (running) await killAll();
        return exited;
      },
    };
    live.set(spec.id, handle);
    log?.debug({ ...context, pid: proc.pid, address, uid }, 'container started');
    return handle;
  }

  return {
    name: 'sandbox',
    enforcesLimits: true,
    start: (spec) => containers.start(spec, () => prepareContainer(spec, false)),
    prepare: (spec) => containers.prepare(spec, () => prepareContainer(spec, true)),
    async sweep() {
      // Processes first (their cgroups), then the layers they wrote in (any loop device still on one, then the files).
      const cgroups = await sandbox.sweep();
      await sandbox.layers?.detachUnder(containersDir);
      const dirs = await readdir(containersDir).catch(() => []);
      await Promise.all(dirs.map((dir) => rm(path.join(containersDir, dir), { recursive: true, force: true })));
      // Dot entries are the sandbox's own (its spare layers), not containers.
      return Math.max(cgroups, dirs.filter((dir) => !dir.startsWith('.')).length);
    },
    removeVolume: (id) => volumes.remove(id),
    async close(graceMs) {
      await containers.close(graceMs);
      await volumes.close();
      await sandbox.close();
    },
  };
}

/** The parent pid from /proc/<pid>/stat, or null when the process is gone. */
async function parentOf(pid: number): Promise<number | null> {
  try {
    const statLine = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}
