// One-off runs (`slipway run`, DESIGN §1): an isolated container of the app's
// current release (or of the release asked for; on an app with nothing live
// yet, of its newest release: the one a failed first deployment built) with the app's exact environment plus `CONTAINER=one-off-<n>`,
// where n is the lowest index no running one-off of that app uses. Its record
// sits in the store (type `one-off`, state `up`) while it runs, so it shows in
// the container list, and is removed when it ends.

import type { Writable } from 'node:stream';
import { SlipwayError } from '../core/errors.ts';
import { validateConfigKey, validateConfigValue } from '../core/names.ts';
import { type App, type Release, releaseName } from '../core/types.ts';
import { type ContainerExit, describeExit } from '../runtime/types.ts';
import { baseSpec } from './container-spec.ts';
import { liveRelease, releaseOf } from './current-release.ts';
import type { PipelineDeps } from './deps.ts';

export const MAX_COMMAND_BYTES = 64 * 1024;

export interface OneOffRequest {
  /** Run as `/bin/sh -c <command>` from the app root. */
  readonly command: string;
  /** The release to run (its version); default: the live one, else the newest. */
  readonly release?: number;
  /** Variables for this run only, laid over the release's config vars. */
  readonly env?: Readonly<Record<string, string>>;
  /** Whether the caller writes the command's stdin (`run.stdin`); closed otherwise. */
  readonly stdin?: boolean;
  /** Run under a pseudo-terminal of this size (interactive use); implies `stdin`, output through `onData`. */
  readonly tty?: TerminalSize;
  /** With `tty`: the terminal's output, as it arrives. */
  readonly onData?: (chunk: Buffer) => void;
  /** Every line the command prints; when absent (a detached run) its lines go to the app log. */
  readonly onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface OneOffRun {
  /** `one-off-2` */
  readonly name: string;
  /** `v3` */
  readonly release: string;
  /** Whether that release is the app's current one (it serves the app's traffic). */
  readonly current: boolean;
  readonly stdin: Writable | null;
  /** Settles once the container is gone (processes, view and store record). */
  readonly exited: Promise<ContainerExit>;
  /** Stops the container with its whole process tree (SIGTERM, SIGKILL after the grace period). */
  stop(): Promise<ContainerExit>;
  /** With `tty`: a new terminal size (a no-op where the runtime cannot resize). */
  resize(size: TerminalSize): Promise<void>;
}

export interface TerminalSize {
  readonly cols: number;
  readonly rows: number;
}

export interface OneOffRunner {
  start(app: string, request: OneOffRequest): Promise<OneOffRun>;
  /** Stops every running one-off of the app (it is being destroyed). */
  stopAll(app: string): Promise<void>;
}

export function createOneOffRunner(deps: PipelineDeps): OneOffRunner {
  /** Running one-offs per app, to stop them with their app. */
  const running = new Map<string, Set<OneOffRun>>();
  // Indexes taken by running one-offs, per app: reserved before the first
  // await so that two runs started together never share a name.
  const taken = new Map<string, Set<number>>();
  /** Takes the lowest free index; the returned function gives it back (once). */
  const reserve = (app: string): [number, () => void] => {
    const used = taken.get(app) ?? new Set<number>();
    taken.set(app, used);
    let index = 1;
    while (used.has(index)) index++;
    used.add(index);
    let held = true;
    const free = () => {
      if (!held) return;
      held = false;
      used.delete(index);
      if (used.size === 0) taken.delete(app);
    };
    return [index, free];
  };

  async function start(appName: string, request: OneOffRequest): Promise<OneOffRun> {
    const extraEnv = validateRequest(request);
    const app = await deps.store.apps.require(appName);
    const current = await releaseToRun(deps, app, request.release);
    const [index, free] = reserve(app.name);
    try {
      const base = baseSpec(deps, app, current, { type: 'one-off', index }, app.containerSize, extraEnv);
      const toAppLog = (_stream: string, line: string) => deps.appLogs.write(app.name, base.name, line);
      const handle = await deps.runtime.start({
        ...base,
        command: request.command,
        exposePort: false,
        stdin: request.stdin || request.tty ? 'pipe' : 'closed',
        onLine: request.onLine ?? toAppLog,
        ...(request.tty ? { tty: request.tty, onData: (_stream, chunk) => request.onData?.(chunk) } : {}),
      });
      const record = {
        id: base.id,
        app: app.name,
        name: base.name,
        type: 'one-off',
        releaseVersion: current.version,
        state: 'up' as const,
        port: null,
        pid: handle.pid ?? null,
        startedAt: new Date().toISOString(),
        restarts: 0,
      };
      const recorded = deps.store.containers.put(record);
      const exited = handle.exited.then(async (exit) => {
        await recorded.catch(() => {}); // a failed put is reported by the start below
        await deps.store.containers.remove(base.id).catch((err: unknown) => {
          // The run did end, and that is what `exited` reports; a stale record is dropped at the next start.
          deps.logger.error({ err, app: app.name, container: base.name }, 'could not remove the one-off record');
        });
        free();
        if (!request.onLine && !request.tty) toAppLog('stdout', `Process ${describeExit(exit)}`);
        deps.logger.info(
          { app: app.name, container: base.name, code: exit.code, signal: exit.signal },
          'one-off ended',
        );
        return exit;
      });
      try {
        await recorded;
      } catch (err) {
        await handle.stop(0);
        throw err;
      }
      deps.logger.info({ app: app.name, container: base.name, release: current.version }, 'one-off started');
      const run: OneOffRun = {
        name: base.name,
        release: releaseName(current.version),
        current: current.version === app.currentRelease,
        stdin: handle.stdin,
        exited,
        async stop() {
          await handle.stop(deps.settings.stopGraceMs);
          return exited;
        },
        async resize(size) {
          if (request.tty) await handle.resize?.(checkSize(size));
        },
      };
      const ofApp = running.get(app.name) ?? new Set<OneOffRun>();
      running.set(app.name, ofApp.add(run));
      exited.finally(() => {
        ofApp.delete(run);
        if (ofApp.size === 0 && running.get(app.name) === ofApp) running.delete(app.name);
      });
      return run;
    } catch (err) {
      free();
      throw err;
    }
  }

  return {
    start,
    async stopAll(app) {
      await Promise.all([...(running.get(app) ?? [])].map((run) => run.stop()));
    },
  };
}

/** The release asked for; else the live one; else, nothing being live yet, the newest. */
async function releaseToRun(deps: PipelineDeps, app: App, version: number | undefined): Promise<Release> {
  if (version !== undefined) return releaseOf(deps.store, app.name, version);
  const release = (await liveRelease(deps.store, app.name)) ?? (await deps.store.releases.list(app.name))[0];
  if (!release) {
    throw new SlipwayError('app.no_release', `${app.name} has no release yet: deploy it before running commands`, {
      app: app.name,
    });
  }
  return release;
}

function validateRequest(request: OneOffRequest): Record<string, string> {
  const { command } = request;
  if (command.trim() === '') throw new SlipwayError('request.invalid', 'no command given');
  if (command.includes('\0')) throw new SlipwayError('request.invalid', 'the command must not contain NUL bytes');
  if (Buffer.byteLength(command) > MAX_COMMAND_BYTES)
    throw new SlipwayError('request.invalid', `the command is over ${MAX_COMMAND_BYTES} bytes`);
  if (request.tty) checkSize(request.tty);
  return Object.fromEntries(
    Object.entries(request.env ?? {}).map(([key, value]) => [validateConfigKey(key), validateConfigValue(key, value)]),
  );
}

function checkSize(size: TerminalSize): TerminalSize {
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 1000;
  if (!valid(size.cols) || !valid(size.rows))
    throw new SlipwayError('request.invalid', 'the terminal size must be whole numbers from 1 to 1000');
  return size;
}
