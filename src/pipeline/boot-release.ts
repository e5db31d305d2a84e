// Boot (DESIGN §1 step 3): start every container of a release's formation
// beside the old ones, wait until each web container accepts TCP on its PORT,
// and keep watching: any new container that exits before the switch fails the
// deployment.

import { containerName } from '../core/container-env.ts';
import { SlipwayError } from '../core/errors.ts';
import type { App, Release } from '../core/types.ts';
import { type ContainerExit, describeExit } from '../runtime/types.ts';
import { waitForPort } from '../runtime/wait-for-port.ts';
import { baseSpec } from './container-spec.ts';
import type { PipelineDeps } from './deps.ts';
import { type LiveContainer, OUTPUT_TAIL_LINES } from './live-containers.ts';

/** How long a proxy must keep a connection open for its container to count as accepting. */
const PROXY_HOLD_MS = 200;

export interface BootedRelease {
  readonly containers: readonly LiveContainer[];
  /** Rejects with `deploy.crashed` as soon as a new container exits, until `disarm()`. */
  readonly crashed: Promise<never>;
  disarm(): void;
}

export interface PlannedContainer {
  readonly type: string;
  readonly index: number;
  readonly command: string;
}

/** Desired containers per process type: formation quantities, default 1 per declared type. */
export async function plannedContainers(deps: PipelineDeps, release: Release): Promise<PlannedContainer[]> {
  const formation = await deps.store.formation.get(release.app);
  const planned: PlannedContainer[] = [];
  for (const [type, command] of Object.entries(release.processes)) {
    const quantity = formation[type] ?? 1;
    for (let index = 1; index <= quantity; index++) planned.push({ type, index, command });
  }
  return planned;
}

export async function startContainer(
  deps: PipelineDeps,
  app: App,
  release: Release,
  plan: PlannedContainer,
  restarts = 0,
): Promise<LiveContainer> {
  const base = baseSpec(deps, app, release, plan);
  const { id, name } = base;
  const recentOutput: string[] = [];
  const handle = await deps.runtime.start({
    ...base,
    command: plan.command,
    exposePort: plan.type === 'web',
    onLine: (_stream, line) => {
      deps.appLogs.write(release.app, name, line);
      recentOutput.push(line);
      if (recentOutput.length > OUTPUT_TAIL_LINES) recentOutput.shift();
    },
  });
  const startedAt = new Date().toISOString();
  await deps.store.containers.put({
    id,
    app: release.app,
    name,
    type: plan.type,
    releaseVersion: release.version,
    state: 'starting',
    port: handle.address?.port ?? null,
    pid: handle.pid ?? null,
    startedAt,
    restarts,
  });
  return {
    id,
    name,
    type: plan.type,
    index: plan.index,
    releaseVersion: release.version,
    handle,
    startedAt,
    restarts,
    recentOutput,
  };
}

export interface BootOptions {
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
  /** Filled as containers start, so a caller can stop them whatever happens. */
  readonly started: LiveContainer[];
  /** Default: the whole formation. Scale, restart and crash restarts boot a part of it. */
  readonly plan?: readonly PlannedContainer[];
  /** Restart count recorded for the new containers. */
  readonly restarts?: number;
  /** Called once every container has started, while the web containers are still coming up. */
  readonly whileBooting?: () => void;
}

export async function bootRelease(
  deps: PipelineDeps,
  release: Release,
  { log, signal, started, plan, restarts = 0, whileBooting }: BootOptions,
): Promise<BootedRelease> {
  const items = plan ?? (await plannedContainers(deps, release));
  const app = await deps.store.apps.require(release.app);
  if (items.length === 0) {
    throw new SlipwayError('deploy.no_processes', 'the formation has no containers to start');
  }
  for (const item of items) {
    if (signal.aborted) throw new SlipwayError('deploy.aborted', `deployment aborted: ${String(signal.reason)}`);
    started.push(await startContainer(deps, app, release, item, restarts));
    log(`       ${containerName(item)}: ${item.command}`);
  }

  let armed = true;
  const crashed = new Promise<never>((_resolve, reject) => {
    for (const container of started) {
      const { exited, firstFailure } = container.handle;
      // Under swarm, a failed task is restarted by Swarm: its first failure is the crash.
      void (firstFailure ? Promise.race([exited, firstFailure]) : exited).then((exit) => {
        if (!armed) return;
        logLastLines(log, release.app, container, describeExit(exit));
        reject(crashError(release.app, container, exit));
      });
    }
  });
  crashed.catch(() => {}); // observed by whoever races it; never an unhandled rejection

  whileBooting?.();
  const deadline = bootTimeoutMs(deps, app);
  const webs = started.filter((c) => c.type === 'web');
  const ready = Promise.all(
    webs.map(async (c) => {
      const address = c.handle.address;
      if (!address) return;
      const watch = watchOtherPorts(c, address.port, (ports) =>
        log(`       ${c.name} listens on ${ports.join(', ')}, not on PORT ${address.port}: still waiting for PORT`),
      );
      const heldForMs = address.proxied ? PROXY_HOLD_MS : 0;
      const up = await waitForPort(address.host, address.port, { timeoutMs: deadline, signal, heldForMs }).finally(
        watch.stop,
      );
      if (!up && !signal.aborted) {
        const elsewhere =
          watch.seen.length > 0 ? `; it listens on ${watch.seen.join(', ')}: make it listen on $PORT` : '';
        logLastLines(log, release.app, c, 'did not accept connections in time');
        throw new SlipwayError(
          'deploy.boot_timeout',
          `${c.name} did not accept connections on PORT ${address.port} within ${formatSeconds(deadline)} (boot timeout)${elsewhere}`,
        );
      }
      log(`       ${c.name} is accepting connections on PORT ${address.port}`);
    }),
  );
  await Promise.race([ready, crashed]);
  if (signal.aborted) throw new SlipwayError('deploy.aborted', `deployment aborted: ${String(signal.reason)}`);
  for (const c of started) await deps.store.containers.setState(c.id, 'up');
  return {
    containers: started,
    crashed,
    disarm: () => {
      armed = false;
    },
  };
}

/** How long an app's web containers have to accept connections on $PORT. */
export function bootTimeoutMs(deps: PipelineDeps, app: App): number {
  return app.bootTimeoutMs ?? deps.settings.bootTimeoutMs;
}

/** Under a failure: the container's last lines, and where all of its output is. */
function logLastLines(log: (line: string) => void, app: string, c: LiveContainer, what: string): void {
  if (c.recentOutput.length === 0) {
    log(`       ${c.name} ${what} without printing anything`);
    return;
  }
  log(`       ${c.name} ${what}; its last ${c.recentOutput.length} line(s):`);
  for (const line of c.recentOutput) log(`       | ${line}`);
  log(`       all of its output: slipway logs -a ${app} --type ${c.name}`);
}

/**
 * Looks, a second after the start and then every second, for ports the
 * container listens on other than its PORT, and says so once when it finds
 * some (an app that took its framework's default port, say).
 */
function watchOtherPorts(c: LiveContainer, port: number, report: (ports: number[]) => void) {
  const state = { seen: [] as number[], stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    const others = (c.handle.listeningPorts?.() ?? []).filter((p) => p !== port);
    if (others.length === 0 || state.seen.length > 0) return;
    state.seen = others;
    report(others);
  }, 1000);
  timer.unref();
  return state;
}

function crashError(app: string, c: LiveContainer, exit: ContainerExit): SlipwayError {
  // A web process is the app; another type can be left out while it is fixed.
  const hint = c.type === 'web' ? '' : `; to deploy without it: slipway scale ${c.type}=0 -a ${app}`;
  return new SlipwayError('deploy.crashed', `${c.name} ${describeExit(exit)} during boot${hint}`, {
    container: c.name,
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
