// The `docker` runtime driver (one host): every container is a Docker
// container of the stack image (`slipway stack:build`), run as its app's uid
// with the limits of its size, labelled `slipway.app`/`slipway.release`, on
// the home's network (docker-network.ts). The release's slug is never copied:
// /app is an overlay volume whose lower layer is the slug (read-only to the
// kernel), its upper layer under `containersDir/<id>/`, private to the
// container and removed with it. Dockerd holds the processes; the driver
// attaches `docker start -a` to stream output and read the exit code. So the
// containers outlive the server: a new start adopts those the pipeline picks
// (`docker logs -f` and `docker wait` then watch them), and `detach` lets go
// of them at a stop that keeps the apps.
// Volumes are the sandbox's (volume-mounts.ts): an ext4 image of the volume's
// size mounted once on the host, bound into each container at its path.

import { chownSync, mkdirSync, statSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { type ContainerLimits, limitsOf } from '../../core/container-size.ts';
import { HELPER_ENV, type ProcessHandle, spawnProcess } from '../../exec/index.ts';
import { createPortAllocator } from '../allocate-port.ts';
import { containerCommand, preparedContainer, type SpawnedContainer } from '../container-command.ts';
import { claimContainerDir } from '../container-dir.ts';
import { createContainerRegistry } from '../container-registry.ts';
import { foundOf } from '../found-container.ts';
import { overlayOptions } from '../overlay-mount.ts';
import { processEnv } from '../process-env.ts';
import type { LayerImages } from '../sandbox/layer-images.ts';
import { createVolumeMounts } from '../sandbox/volume-mounts.ts';
import type { ContainerHandle, ContainerSpec, FoundContainer, PreparedContainer, RuntimeDriver } from '../types.ts';
import { type DockerHandleOptions, dockerHandle } from './container-handle.ts';
import type { DockerNetwork } from './docker-network.ts';
import type { Engine } from './engine.ts';

export interface DockerDriverOptions {
  readonly engine: Engine;
  readonly network: DockerNetwork;
  /** The home's key: names containers and labels them (`slipway.home`), so a sweep finds only its own. */
  readonly key: string;
  /** The stack image (`slipway stack:build`). */
  readonly image: string;
  readonly containersDir: string;
  /** Where volumes' images and mounts live (volume-mounts.ts); default `<containersDir>/../volumes`. */
  readonly volumesDir?: string;
  /** Makes volumes' size-bounded images (the sandbox's); without it a volume is a plain, unbounded directory. */
  readonly layers?: LayerImages | null;
  readonly portRange?: [number, number];
  readonly logger?: Logger;
}

/** Containers started without a user (tests, tools) run as this uid: never root. */
const FALLBACK_USER = { uid: 65_001, gid: 65_001 } as const;
const APP_DIR = '/app';
const STARTED_WITHIN_MS = 30_000;

interface Inspected {
  State: { Running: boolean; Status: string; Pid: number; OOMKilled: boolean };
  Config: { Env: string[] | null };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

export function createDockerDriver(options: DockerDriverOptions): RuntimeDriver {
  const { engine, network, key } = options;
  const containersDir = path.resolve(options.containersDir);
  const ports = createPortAllocator({ range: options.portRange });
  const log = options.logger?.child({ runtime: 'docker' });
  const containers = createContainerRegistry();
  const { live } = containers;
  /** The docker clients that watch containers (attached, following logs, waiting). */
  const watchers = new Set<ProcessHandle>();
  let detached = false;
  const watcher = (argv: string[], spawnOptions: Parameters<typeof spawnProcess>[1]) => {
    const proc = spawnProcess(argv, spawnOptions);
    watchers.add(proc);
    void proc.exited.then(() => watchers.delete(proc));
    return proc;
  };
  const nameOf = (spec: ContainerSpec) => `slipway-${key}-${spec.id}`;
  const dockerEnv = { ...HELPER_ENV, DOCKER_HOST: `unix://${engine.socket}` };
  const volumes = createVolumeMounts(
    options.volumesDir ?? path.join(path.dirname(containersDir), 'volumes'),
    options.layers ?? null,
  );

  const inspect = (name: string) => engine.request<Inspected>('GET', `/containers/${name}/json`);
  const remove = async (name: string, dir: string) => {
    // v=1: the anonymous /app volume goes too (its overlay unmounted), then its upper layer.
    await engine.request('DELETE', `/containers/${name}?force=1&v=1`).catch((err: unknown) => {
      if (!/No such container/i.test((err as Error).message)) throw err;
    });
    await rm(dir, { recursive: true, force: true });
  };

  /** The container, created (not started): its writable view, port, limits and environment. */
  async function create(spec: ContainerSpec, port: number | undefined, argv: string[], stdin: boolean) {
    const slugDir = path.resolve(spec.slugDir);
    const slug = statSync(slugDir, { throwIfNoEntry: false });
    if (slug === undefined || !slug.isDirectory()) throw new Error(`slug ${slugDir} is not a directory`);
    const dir = claimContainerDir(containersDir, spec.id);
    const upper = path.join(dir, 'upper');
    const work = path.join(dir, 'work');
    const overlay = overlayOptions({ lower: slugDir, upper, work, target: APP_DIR });
    const { uid, gid } = spec.user ?? FALLBACK_USER;
    // The view's root takes the upper layer's owner and mode: the container's user, as in the sandbox. Not
    // the slug's: a slug stored without a build (a Procfile-only app) is root's, 0700, as uploaded.
    mkdirSync(upper, { mode: 0o755 });
    chownSync(upper, uid, gid);
    mkdirSync(work, { mode: 0o700 });
    const limits: ContainerLimits = spec.limits ?? limitsOf('M');
    const env = processEnv(APP_DIR, spec.env, port);
    const name = nameOf(spec);
    try {
      // Each volume's host mount (its root the app's), bound at its path: one under /app goes on top of the app.
      const volumeDirs = await Promise.all((spec.volumes ?? []).map((volume) => volumes.ensure(volume, { uid, gid })));
      await engine.request('POST', `/containers/create?name=${name}`, {
        Image: options.image,
        Cmd: argv,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        WorkingDir: APP_DIR,
        User: `${uid}:${gid}`,
        Hostname: spec.name,
        Labels: {
          'slipway.home': key,
          'slipway.app': spec.app,
          'slipway.release': spec.release ?? '',
          'slipway.container': spec.name,
          'slipway.id': spec.id,
        },
        AttachStdin: stdin,
        OpenStdin: stdin,
        StdinOnce: stdin,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          Init: true, // docker-init (tini) as pid 1: signals reach the command, orphans are reaped
          NetworkMode: network.name,
          Memory: limits.memoryBytes,
          MemorySwap: limits.memoryBytes,
          CpuShares: limits.cpuShares,
          PidsLimit: limits.pids,
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
          Mounts: [
            {
              Type: 'volume',
              Target: APP_DIR,
              VolumeOptions: {
                DriverConfig: { Name: 'local', Options: { type: 'overlay', device: 'overlay', o: overlay } },
              },
            },
            ...(spec.volumes ?? []).map((volume, i) => ({
              Type: 'bind',
              Source: volumeDirs[i],
              Target: volume.path,
              BindOptions: { Propagation: 'rprivate' },
            })),
          ],
        },
      });
    } catch (err) {
      await remove(name, dir).catch(() => {});
      throw err;
    }
    return { name, dir };
  }

  /** Port and container; a `held` command waits for its line on stdin (see preparedContainer). */
  async function prepareContainer(spec: ContainerSpec, early: boolean): Promise<PreparedContainer> {
    const port = spec.exposePort ? await ports.allocate() : undefined;
    let made: { name: string; dir: string } | undefined;
    const discard = async () => {
      if (made)
        await remove(made.name, made.dir).catch((err: unknown) =>
          log?.error({ id: spec.id, err }, 'could not remove the container'),
        );
      if (port !== undefined) ports.release(port);
    };
    // A web container is always held until its address answers (the loopback rule is in place).
    const hold = (early && spec.stdin !== 'pipe' && spec.tty === undefined) || port !== undefined;
    const command = containerCommand(spec, hold);
    try {
      containers.throwIfClosed();
      made = await create(spec, port, command.argv, command.stdin === 'pipe');
    } catch (err) {
      await discard();
      throw err;
    }
    const container = made;
    const spawnOrDiscard = async (held: boolean): Promise<SpawnedContainer> => {
      try {
        containers.throwIfClosed();
        return await launch(spec, container, port, held, command.stdin === 'pipe');
      } catch (err) {
        await discard();
        throw err;
      }
    };
    if (!early && hold) {
      // Not prepared ahead of time, but held: released as soon as it is set up.
      const spawned = await spawnOrDiscard(true);
      spawned.stdin?.end('\n');
      return { start: async () => spawned.handle, discard };
    }
    return preparedContainer(spec, early, spawnOrDiscard, discard);
  }

  async function launch(
    spec: ContainerSpec,
    container: { name: string; dir: string },
    port: number | undefined,
    held: boolean,
    attachStdin: boolean,
  ): Promise<SpawnedContainer> {
    const proc = watcher(['docker', 'start', '--attach', ...(attachStdin ? ['--interactive'] : []), container.name], {
      env: dockerEnv,
      onLine: spec.onLine,
      onData: spec.onData,
      stdin: attachStdin ? 'pipe' : 'ignore',
    });
    let pid: number | undefined;
    let ip: string | undefined;
    if (held || port !== undefined) {
      // Running (held on its stdin line): its pid, and the loopback rule before anything connects.
      ({ pid, ip } = (await whenRunning(container.name, proc.exited)) ?? {});
      if (pid !== undefined && port !== undefined) await network.routeToLoopback(pid);
    }
    const handle = track(spec, container, port, {
      pid,
      // Its address on the home's bridge (the router's way in); one that ended at once has none any more.
      ip,
      stdin: held ? null : proc.stdin,
      processEnded: proc.exited,
    });
    log?.debug({ app: spec.app, container: spec.name, id: spec.id, pid, port, held }, 'container started');
    return { handle, stdin: proc.stdin };
  }

  /** The handle of a running container (started or adopted), live in the driver until it is removed. */
  function track(
    spec: Pick<ContainerSpec, 'id' | 'app' | 'name'>,
    container: { name: string; dir: string },
    port: number | undefined,
    run: Pick<DockerHandleOptions, 'pid' | 'stdin' | 'processEnded'> & { ip: string | undefined },
  ): ContainerHandle {
    const handle = dockerHandle({
      ...run,
      engine,
      id: spec.id,
      name: spec.name,
      container: container.name,
      address: port === undefined ? null : { host: run.ip ?? '127.0.0.1', port },
      remove: () => remove(container.name, container.dir),
      forget: () => {
        if (port !== undefined) ports.release(port);
        live.delete(spec.id);
      },
      letGo: () => detached,
      log,
      context: { app: spec.app, container: spec.name, id: spec.id },
    });
    live.set(spec.id, handle);
    return handle;
  }

  /**
   * Takes over a running container an earlier run of this home started: its exit is
   * waited for through dockerd, its output followed from now on (docker logs).
   */
  async function adoptOne(found: FoundContainer, dockerName: string, onLine: ContainerSpec['onLine']) {
    const state = await inspect(dockerName);
    if (!state.State.Running || state.State.Pid <= 0) return null;
    const portVar = state.Config.Env?.find((e) => e.startsWith('PORT='))?.slice('PORT='.length);
    const port = portVar === undefined ? undefined : Number(portVar);
    if (port !== undefined) ports.claim(port);
    const since = (Date.now() / 1000).toFixed(3);
    const output = watcher(['docker', 'logs', '--follow', '--since', since, dockerName], { env: dockerEnv, onLine });
    let status: number | undefined;
    const wait = watcher(['docker', 'wait', dockerName], {
      env: dockerEnv,
      onLine: (stream, line) => {
        if (stream === 'stdout' && /^\d+$/.test(line)) status = Number(line);
      },
    });
    const processEnded = wait.exited.then(async () => {
      await Promise.race([output.exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      await output.stop(0);
      return { code: status ?? null, signal: status === undefined ? ('SIGKILL' as const) : null };
    });
    return track(found, { name: dockerName, dir: path.join(containersDir, found.id) }, port, {
      pid: state.State.Pid,
      ip: state.NetworkSettings.Networks[network.name]?.IPAddress || undefined,
      stdin: null,
      processEnded,
    });
  }

  /** The containers labelled with this home's key (`all`: stopped ones too). */
  function listOwn(all: boolean) {
    const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.home=${key}`] }));
    return engine.request<{ Id: string; Names: string[]; Labels: Record<string, string> }[]>(
      'GET',
      `/containers/json?all=${all ? 1 : 0}&filters=${filters}`,
    );
  }

  /** Polls until dockerd reports the container running: its init's host pid and its address (undefined if it ended first). */
  async function whenRunning(name: string, ended: Promise<unknown>): Promise<{ pid: number; ip?: string } | undefined> {
    let over = false;
    void ended.then(() => {
      over = true;
    });
    const deadline = Date.now() + STARTED_WITHIN_MS;
    while (!over && Date.now() < deadline) {
      const state = await inspect(name).catch(() => null);
      if (state?.State.Running && state.State.Pid > 0)
        return { pid: state.State.Pid, ip: state.NetworkSettings.Networks[network.name]?.IPAddress || undefined };
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return undefined;
  }

  return {
    name: 'docker',
    enforcesLimits: true,
    start: (spec) => containers.start(spec, () => prepareContainer(spec, false)),
    prepare: (spec) => containers.prepare(spec, () => prepareContainer(spec, true)),
    removeVolume: (id) => volumes.remove(id),
    async adopt(choose) {
      const running = await listOwn(false);
      const chosen = running.flatMap((c) => {
        const found = foundOf(c.Labels);
        const onLine = found && choose(found);
        return found && onLine ? [{ found, onLine, dockerName: c.Names[0]?.replace(/^\//, '') ?? c.Id }] : [];
      });
      const adopted = await Promise.all(
        chosen.map(({ found, onLine, dockerName }) =>
          adoptOne(found, dockerName, onLine).catch((err: unknown) => {
            log?.warn({ ...found, err }, 'could not adopt a running container; it is swept');
            return null;
          }),
        ),
      );
      return adopted.filter((h): h is ContainerHandle => h !== null);
    },
    async sweep() {
      // Every container of this home but those running for this driver (adopted at start-up).
      const found = (await listOwn(true)).filter((c) => !live.has(c.Labels['slipway.id'] ?? ''));
      await Promise.all(
        found.map(({ Id }) => engine.request('DELETE', `/containers/${Id}?force=1&v=1`).catch(() => {})),
      );
      // Dot entries are not containers' (the sandbox's spare layers, when it runs the builds).
      const dirs = (await readdir(containersDir).catch(() => [])).filter(
        (dir) => !dir.startsWith('.') && !live.has(dir),
      );
      await Promise.all(dirs.map((dir) => rm(path.join(containersDir, dir), { recursive: true, force: true })));
      return Math.max(found.length, dirs.length);
    },
    async close(graceMs) {
      await containers.close(graceMs);
      await volumes.close();
    },
    async detach() {
      await containers.detach();
      detached = true;
      // SIGKILL: a docker client passes on the signals it gets, but that one ends it alone.
      await Promise.all([...watchers].map((proc) => proc.stop(0)));
      live.clear();
    },
  };
}
