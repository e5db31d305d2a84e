// The `process` runtime driver, the portable fallback: a container is the
// user's command in its own process group, run from a private writable view
// of the slug under `containersDir/<id>/`. The driver owns every container it
// started until its view is gone: ports, directories, mounts and processes.

import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { type ProcessHandle, spawnProcess } from '../../exec/index.ts';
import { createPortAllocator } from '../allocate-port.ts';
import { containerCommand, preparedContainer, type SpawnedContainer } from '../container-command.ts';
import { createContainerRegistry } from '../container-registry.ts';
import { listeningPorts } from '../listening-ports.ts';
import { probeOverlay } from '../overlay-mount.ts';
import { processEnv } from '../process-env.ts';
import { terminalResizer } from '../resize-terminal.ts';
import type { ContainerExit, ContainerHandle, ContainerSpec, PreparedContainer, RuntimeDriver } from '../types.ts';
import { liveOwner, writeOwner } from './owner-record.ts';
import { linkVolumes, removeVolumeDir } from './volume-links.ts';
import { createWritableView, removeStaleView, type ViewKind, type WritableView } from './writable-view.ts';

export interface ProcessDriverOptions {
  readonly containersDir: string;
  /** Address the apps are reached at; default 127.0.0.1. */
  readonly host?: string;
  /** Inclusive range for $PORT; default: any free port the kernel picks. */
  readonly portRange?: [number, number];
  readonly logger?: Logger;
  /** Where volumes' directories live (volume-links.ts); default `<containersDir>/../volumes`. */
  readonly volumesDir?: string;
  /** `auto` (default): overlay mounts when the host allows them, else copies. `copy` forces copies. */
  readonly writableView?: 'auto' | 'copy';
}

export function createProcessDriver(options: ProcessDriverOptions): RuntimeDriver {
  const containersDir = path.resolve(options.containersDir);
  /** Volumes removed in this run (volume-links.ts). */
  const removedVolumes = new Set<string>();
  const volumesDir = path.resolve(options.volumesDir ?? path.join(path.dirname(containersDir), 'volumes'));
  const host = options.host ?? '127.0.0.1';
  const ports = createPortAllocator({ range: options.portRange });
  const log = options.logger?.child({ runtime: 'process' });
  const containers = createContainerRegistry();
  const { live } = containers;
  let viewKind: Promise<ViewKind> | undefined;

  // Probed once per driver: whether overlays work does not change while we run.
  function detectViewKind(): Promise<ViewKind> {
    viewKind ??= (async (): Promise<ViewKind> => {
      await mkdir(containersDir, { recursive: true });
      if (options.writableView === 'copy') return 'copy';
      const reason = await probeOverlay(containersDir);
      if (reason === null) return 'overlay';
      log?.warn({ reason }, 'overlay mounts unavailable; every container gets a full copy of its slug');
      return 'copy';
    })().catch((err: unknown) => {
      viewKind = undefined; // a failed probe (say, a full disk) may succeed next time
      throw err;
    });
    return viewKind;
  }

  async function prepare(spec: ContainerSpec): Promise<{ view: WritableView; port: number | undefined }> {
    const kind = await detectViewKind();
    const port = spec.exposePort ? await ports.allocate() : undefined;
    try {
      const view = await createWritableView(kind, path.resolve(spec.slugDir), path.join(containersDir, spec.id));
      try {
        linkVolumes(volumesDir, view.writableRoot, spec.volumes ?? [], removedVolumes);
      } catch (err) {
        await view.remove();
        throw err;
      }
      return { view, port };
    } catch (err) {
      if (port !== undefined) ports.release(port);
      throw err;
    }
  }

  /** Spawns the container's command; a `held` one waits for its line on stdin (see preparedContainer). */
  function launch(spec: ContainerSpec, view: WritableView, port: number | undefined, held: boolean): SpawnedContainer {
    const command = containerCommand(spec, held);
    const { argv, cwd } = view.launch(command.argv);
    const proc: ProcessHandle = spawnProcess(argv, {
      cwd,
      env: processEnv(view.appDir, spec.env, port),
      onLine: spec.onLine,
      onData: spec.onData,
      stdin: command.stdin,
    });
    const context = { app: spec.app, container: spec.name, id: spec.id };
    const ended = proc.exited.then((exit): ContainerExit => {
      if (exit.spawnError !== undefined)
        log?.error({ ...context, reason: exit.spawnError }, 'container could not start');
      return { code: exit.code, signal: exit.signal };
    });
    const exited = ended.then(async (exit): Promise<ContainerExit> => {
      try {
        await view.remove();
      } catch (err) {
        // The container did end, and that is what `exited` reports; a view we
        // could not remove is the operator's problem, so say so loudly.
        log?.error({ ...context, err }, 'could not remove the container view; left in place');
      }
      if (port !== undefined) ports.release(port);
      live.delete(spec.id);
      log?.debug({ ...context, code: exit.code, signal: exit.signal }, 'container exited');
      return exit;
    });
    const handle: ContainerHandle = {
      id: spec.id,
      name: spec.name,
      pid: proc.pid,
      address: port === undefined ? null : { host, port },
      stdin: held ? null : proc.stdin,
      listeningPorts: () => (proc.pid === undefined ? [] : listeningPorts(proc.pid)),
      ended,
      exited,
      async stop(graceMs: number) {
        await proc.stop(graceMs);
        return exited;
      },
      ...(spec.tty ? { resize: terminalResizer(proc.pid, spec.tty) } : {}),
    };
    if (proc.pid !== undefined) {
      try {
        writeOwner(view.containerDir, proc.pid);
      } catch {
        // Already gone (a command that ends at once): nothing to find after a crash.
      }
    }
    live.set(spec.id, handle);
    log?.debug({ ...context, pid: proc.pid, view: view.kind, port, held }, 'container started');
    return { handle, stdin: proc.stdin };
  }

  /** The view and port; with `early`, the command is spawned too and held until start(). */
  async function prepareContainer(spec: ContainerSpec, early: boolean): Promise<PreparedContainer> {
    const { view, port } = await prepare(spec);
    const discard = async () => {
      if (port !== undefined) ports.release(port);
      await view.remove().catch((err: unknown) => {
        log?.error({ container: spec.name, id: spec.id, err }, 'could not remove the container view');
      });
    };
    const launchOrDiscard = async (held: boolean) => {
      try {
        // close() ran while the view was being prepared: it will not see this container.
        containers.throwIfClosed();
        return launch(spec, view, port, held);
      } catch (err) {
        await discard();
        throw err;
      }
    };
    return preparedContainer(spec, early, launchOrDiscard, discard);
  }

  return {
    name: 'process',
    enforcesLimits: false,
    start: (spec) => containers.start(spec, () => prepareContainer(spec, false)),
    prepare: (spec) => containers.prepare(spec, () => prepareContainer(spec, true)),
    removeVolume: (id) => {
      removedVolumes.add(id);
      return removeVolumeDir(volumesDir, id);
    },
    async sweep() {
      const dirs = await readdir(containersDir).catch(() => []);
      for (const dir of dirs) {
        const containerDir = path.join(containersDir, dir);
        const pid = await liveOwner(containerDir);
        if (pid !== null) await killGroup(pid);
        await removeStaleView(containerDir);
      }
      return dirs.length;
    },
    close: (graceMs) => containers.close(graceMs),
  };
}

/** SIGKILL to a left-over process group, then a bounded wait until its leader is gone. */
async function killGroup(pid: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 200; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    // Gone, or a zombie waiting for whoever inherited it to reap it: either way it no longer runs.
    if (stat === null || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
