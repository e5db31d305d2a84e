// The `swarm` runtime driver (many hosts): every container is a Swarm service
// of its release's image (release-image.ts), made through the manager's API
// (the environment in the request body, never on a command line). A process
// type's container is a one-task service that Swarm restarts when it fails;
// its handle ends only when Slipway stops it (or its command exits 0), so
// Slipway's own crash restarts never run beside Swarm's; its first failure is
// reported apart (`firstFailure`: a deployment's boot fails on it). One-off runs, the
// release phase and the postdeploy hook are replicated jobs, run at most once;
// their exit code is read from the task. A new start adopts the services of
// current releases a killed server left (home-services.ts). See
// service-spec.ts and docs/scale-out.md.

import { writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { limitsOf } from '../../core/container-size.ts';
import { userShell } from '../../exec/index.ts';
import { createPortAllocator } from '../allocate-port.ts';
import { claimContainerDir } from '../container-dir.ts';
import { createContainerRegistry } from '../container-registry.ts';
import type { Engine } from '../docker/engine.ts';
import { processEnv } from '../process-env.ts';
import { decodeExit } from '../sandbox/sandbox-argv.ts';
import type { ContainerExit, ContainerHandle, ContainerSpec, PreparedContainer, RuntimeDriver } from '../types.ts';
import { adoptServices, ownServices, removeService, scaleToZero, servicePort } from './home-services.ts';
import type { ReleaseImages } from './release-image.ts';
import { followServiceOutput } from './service-output.ts';
import { runsOnce, serviceSpec } from './service-spec.ts';
import {
  createNodes,
  downNode,
  hasEnded,
  hasStarted,
  serviceTasks,
  type Task,
  taskExit,
  taskRefused,
} from './swarm-tasks.ts';

export interface SwarmDriverOptions {
  readonly engine: Engine;
  /** The home's key: names services and labels them (`slipway.home`), so a sweep finds only its own. */
  readonly key: string;
  readonly images: ReleaseImages;
  /** Where the driver records the services it made, one directory per container. */
  readonly containersDir: string;
  /** Swarm's own SIGTERM-to-SIGKILL wait when it stops a task (a node drained, a service scaled down). */
  readonly stopGraceMs?: number;
  readonly portRange?: [number, number];
  readonly logger?: Logger;
}

const FALLBACK_USER = { uid: 65_001, gid: 65_001 } as const;
/** A task's image may have to reach its node first. */
const STARTED_WITHIN_MS = 60_000;
const FAST_POLL_MS = 50;
const SLOW_POLL_MS = 1000;
const FAST_FOR_MS = 10_000;

export function createSwarmDriver(options: SwarmDriverOptions): RuntimeDriver {
  const { engine, key, images } = options;
  const containersDir = path.resolve(options.containersDir);
  const ports = createPortAllocator({ range: options.portRange });
  const log = options.logger?.child({ runtime: 'swarm' });
  const containers = createContainerRegistry();
  const nodeOf = createNodes(engine);
  /** Stops following each running service's output (a server stopping with the apps kept). */
  const outputs = new Set<() => Promise<void>>();
  let detached = false;
  const serviceName = (spec: ContainerSpec) =>
    `slipway-${key}-${spec.id.replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');

  async function prepareContainer(spec: ContainerSpec): Promise<PreparedContainer> {
    if ((spec.volumes ?? []).length > 0)
      throw new Error(
        'the swarm runtime does not mount volumes (docs/scale-out.md): use an add-on or an outside store',
      );
    if (spec.stdin === 'pipe' || spec.tty !== undefined)
      throw new Error(
        'the swarm runtime cannot attach a terminal or stdin to a task: run it with `--no-tty` (docs/scale-out.md)',
      );
    const dir = claimContainerDir(containersDir, spec.id);
    const name = serviceName(spec);
    writeFileSync(path.join(dir, 'service'), `${name}\n`);
    let port: number | undefined;
    let done = false;
    const discard = async () => {
      if (done) return;
      done = true;
      if (port !== undefined) ports.release(port);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      const user = spec.user ?? FALLBACK_USER;
      const image = await images.ensure({ app: spec.app, release: spec.release, slugDir: spec.slugDir, user });
      port = spec.exposePort ? await ports.allocate() : undefined;
      const started = port;
      return {
        start: async () => {
          containers.throwIfClosed();
          done = true;
          try {
            return await launch(spec, name, image, started, dir);
          } catch (err) {
            await removeService(engine, name).catch(() => {});
            done = false;
            await discard();
            throw err;
          }
        },
        discard,
      };
    } catch (err) {
      await discard();
      throw err;
    }
  }

  async function launch(
    spec: ContainerSpec,
    name: string,
    image: string,
    port: number | undefined,
    dir: string,
  ): Promise<ContainerHandle> {
    const once = runsOnce(spec.name);
    const labels = {
      'slipway.home': key,
      'slipway.app': spec.app,
      'slipway.release': spec.release ?? '',
      'slipway.container': spec.name,
      'slipway.id': spec.id,
    };
    const t0 = Date.now();
    await engine.request(
      'POST',
      '/services/create',
      serviceSpec({
        name,
        image,
        argv: userShell(spec.command),
        env: processEnv('/app', spec.env, port),
        user: spec.user ?? FALLBACK_USER,
        hostname: spec.name,
        labels,
        limits: spec.limits ?? limitsOf('M'),
        port,
        once,
        stopGraceMs: options.stopGraceMs ?? 30_000,
      }),
    );
    return watch(spec, { name, port, dir, once, t0 });
  }

  /**
   * The handle of a service's container (one just made, or one an earlier run left, adopted):
   * its output followed (from `since`, a unix time, when set), its task watched until it ends.
   */
  async function watch(
    spec: Pick<ContainerSpec, 'id' | 'app' | 'name' | 'onLine' | 'onData'>,
    service: { name: string; port: number | undefined; dir: string; once: boolean; t0: number; since?: number },
  ): Promise<ContainerHandle> {
    const { name, port, dir, once, t0 } = service;
    const output = followServiceOutput(engine, name, spec, service.since);
    const letGo = () => output.finish();
    outputs.add(letGo);
    const context = { app: spec.app, container: spec.name, id: spec.id, service: name };
    let stopping = false;
    let settle: (exit: ContainerExit) => void = () => {};
    const ended = new Promise<ContainerExit>((resolve) => {
      settle = resolve;
    });
    let failed: ((exit: ContainerExit) => void) | undefined;
    const firstFailure = new Promise<ContainerExit>((resolve) => {
      failed = resolve;
    });
    /** Once, with what the failed task printed read first (its last lines explain a crash). */
    const failedOnce = async (exit: ContainerExit) => {
      const report = failed;
      failed = undefined;
      if (report === undefined) return;
      await output.catchUp();
      report(exit);
    };
    let current: Task | undefined;
    let first: Task | undefined;
    // Until the first task runs (or has already ended): where it runs.
    while (first === undefined) {
      const tasks = await serviceTasks(engine, name);
      if (tasks === null) throw new Error('its service was removed before its task started');
      const task = tasks[0];
      const refused = task ? taskRefused(task) : null;
      // A job's task that could not run is final; a service's is placed again by Swarm (another node).
      if (refused !== null && (once || Date.now() - t0 > STARTED_WITHIN_MS))
        throw new Error(`Swarm could not run its task: ${refused}`);
      if (task && refused === null && hasStarted(task)) first = task;
      else if (Date.now() - t0 > STARTED_WITHIN_MS)
        throw new Error(`its task did not start within ${STARTED_WITHIN_MS / 1000} s`);
      else await sleep(FAST_POLL_MS);
    }
    current = first;
    const published = first.Status.PortStatus?.Ports?.[0]?.PublishedPort ?? port;
    const firstNode = first.NodeID === undefined ? undefined : await nodeOf(first.NodeID);
    let node = firstNode?.hostname;
    let address =
      port === undefined || firstNode === undefined
        ? null
        : { host: firstNode.address, port: published ?? port, proxied: true };
    let addressNode = first.NodeID;
    const moved: (() => void)[] = [];
    /** A task Swarm started on another node (after a failure, a node lost): the handle's node and address follow it. */
    const follow = async (task: Task) => {
      if (!task.NodeID || task.NodeID === addressNode || task.Status.State !== 'running') return;
      addressNode = task.NodeID;
      const now = await nodeOf(task.NodeID);
      node = now.hostname;
      if (port !== undefined) address = { host: now.address, port, proxied: true };
      log?.info({ ...context, node, address }, 'task runs on another node now');
      for (const listener of moved) listener();
    };

    const containerExit = async (task: Task | undefined): Promise<ContainerExit> => {
      const id = task?.Status.ContainerStatus?.ContainerID;
      const found = id
        ? await engine.request<{ State: { ExitCode: number } }>('GET', `/containers/${id}/json`).catch(() => null)
        : null;
      return found ? decodeExit(found.State.ExitCode, null) : { code: null, signal: 'SIGTERM' };
    };
    const finish = async (exit: ContainerExit) => {
      await output.finish();
      settle(exit);
    };
    let nodeChecked = 0;
    // Watches the service's newest task until Slipway's container is over.
    void (async () => {
      for (;;) {
        if (detached) return; // the server stops, the service runs on (and is adopted next time)
        const tasks = await serviceTasks(engine, name).catch(() => undefined);
        if (tasks === null) return finish({ code: null, signal: 'SIGKILL' }); // removed by someone else
        const task: Task | undefined = tasks === undefined ? current : tasks.find((t) => t.ID === current?.ID);
        // Gone from the manager's list (a service scaled to zero drops its tasks): ended, as its container tells.
        if (task === undefined) return finish(await containerExit(current));
        await follow(task).catch(() => {});
        // A job's task on a lost node stays `running` until the node returns: given up at once instead.
        if (once && !hasEnded(task) && task.NodeID && Date.now() - nodeChecked >= SLOW_POLL_MS) {
          nodeChecked = Date.now();
          const lost = await downNode(engine, task.NodeID).catch(() => null);
          if (lost !== null) {
            await Promise.race([output.finish(), sleep(2000)]); // the lost node may never answer for its logs
            spec.onLine('stderr', `slipway: the swarm node ${lost} running this task was lost; its end is unknown`);
            return settle({ code: null, signal: null, nodeLost: lost });
          }
        }
        if (hasEnded(task)) {
          const exit = taskExit(task);
          if (once || stopping || (exit.code === 0 && task.Status.State === 'complete')) return finish(exit);
          await failedOnce(exit);
          // Swarm starts a new task (on-failure): that one is the container now.
          const next = tasks?.find((t) => !hasEnded(t));
          if (next && next.ID !== current?.ID) {
            log?.warn({ ...context, exit, task: task.ID }, 'task failed; Swarm restarts it');
            current = next;
          }
        } else if (!once && !stopping && task.DesiredState === 'shutdown') {
          // Its node lost: the task stays as last reported, and Swarm runs a new one elsewhere.
          const next: Task | undefined = tasks?.find((t) => t.ID !== task.ID && t.DesiredState === 'running');
          if (next) {
            log?.warn({ ...context, task: task.ID }, "task's node lost; Swarm runs it elsewhere");
            current = next;
          }
        }
        await sleep(stopping || Date.now() - t0 < FAST_FOR_MS ? FAST_POLL_MS : SLOW_POLL_MS);
      }
    })();
    const exited = ended.then(async (exit) => {
      outputs.delete(letGo);
      await removeService(engine, name).catch((err: unknown) =>
        log?.error({ ...context, err }, 'could not remove the service'),
      );
      // Removing a job leaves its task's container (moby/moby#42789): this node's is removed here.
      const container = current?.Status.ContainerStatus?.ContainerID;
      if (once && container) await engine.request('DELETE', `/containers/${container}?force=1`).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      if (port !== undefined) ports.release(port);
      containers.live.delete(spec.id);
      return exit;
    });
    let over = false;
    void ended.then(() => {
      over = true;
    });

    /** The task's container, when it runs on this node: it can be signalled directly. */
    const localContainer = async (): Promise<string | undefined> => {
      const id = current?.Status.ContainerStatus?.ContainerID;
      if (!id) return undefined;
      const found = await engine
        .request<{ State: { Running: boolean } }>('GET', `/containers/${id}/json`)
        .catch(() => null);
      return found?.State.Running ? id : undefined;
    };
    const kill = (id: string, signal: string) =>
      engine.request('POST', `/containers/${id}/kill?signal=${signal}`).catch(() => {});

    const handle: ContainerHandle = {
      id: spec.id,
      name: spec.name,
      pid: undefined,
      get address() {
        return address;
      },
      get node() {
        return node;
      },
      onMoved: (listener) => moved.push(listener),
      stdin: null,
      ended,
      exited,
      // A job's task is never restarted: its handle ends instead.
      firstFailure: once ? undefined : firstFailure,
      async stop(graceMs: number) {
        if (over || stopping) return exited;
        stopping = true;
        // No replacement task from here on: a job never gets one; a service is scaled to zero.
        if (!once) await scaleToZero(engine, name).catch(() => {});
        const local = await localContainer();
        if (local === undefined) {
          // On another node: Swarm stops it, with its own grace period.
          await removeService(engine, name).catch(() => {});
          return exited;
        }
        if (graceMs > 0) {
          await kill(local, 'SIGTERM');
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
          clearTimeout(timer);
        }
        if (!over) await kill(local, 'SIGKILL');
        return exited;
      },
    };
    containers.live.set(spec.id, handle);
    log?.debug({ ...context, node: first.NodeID, address, ms: Date.now() - t0 }, 'task started');
    return handle;
  }

  return {
    name: 'swarm',
    enforcesLimits: true,
    start: (spec) => containers.start(spec, () => prepareContainer(spec)),
    prepare: (spec) => containers.prepare(spec, () => prepareContainer(spec)),
    async removeVolume() {},
    adopt: (choose) =>
      adoptServices(engine, key, choose, (found, service, onLine) => {
        const port = servicePort(service);
        if (port !== undefined) ports.claim(port);
        const dir = path.join(containersDir, found.id);
        const since = Date.now() / 1000;
        return watch({ ...found, onLine }, { name: service.Spec.Name, port, dir, once: false, t0: 0, since });
      }).then(({ adopted, failed }) => {
        for (const { found, err } of failed)
          log?.warn({ ...found, err }, 'could not adopt a running service; it is swept');
        return adopted;
      }),
    async sweep() {
      // Every service of this home but those running for this driver (adopted at start-up).
      const found = (await ownServices(engine, key)).filter(
        (s) => !containers.live.has(s.Spec.Labels['slipway.id'] ?? ''),
      );
      await Promise.all(found.map(({ ID }) => removeService(engine, ID)));
      const dirs = (await readdir(containersDir).catch(() => [])).filter(
        (dir) => !dir.startsWith('.') && !containers.live.has(dir),
      );
      await Promise.all(dirs.map((dir) => rm(path.join(containersDir, dir), { recursive: true, force: true })));
      return Math.max(found.length, dirs.length);
    },
    close: (graceMs) => containers.close(graceMs),
    async detach() {
      await containers.detach();
      detached = true;
      await Promise.all([...outputs].map((letGo) => letGo()));
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
