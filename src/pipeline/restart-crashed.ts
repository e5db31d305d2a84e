// Crash restarts: a live container whose process ends on its own is started
// again from the same release, at once the first time, then with an
// exponential backoff while it keeps failing quickly. After CRASHED_AFTER
// quick failures in a row its state is `crashed` (shown by `ps`) until a
// restart stays up. A web container rejoins the router only once it accepts
// connections again; meanwhile the router skips it.

import { isSlipwayError } from '../core/errors.ts';
import { describeExit } from '../runtime/types.ts';
import type { AppLocks } from './app-lock.ts';
import { bootRelease, bootTimeoutMs } from './boot-release.ts';
import { formatMs } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';
import type { LiveContainer, LiveContainers } from './live-containers.ts';
import { routeApp, stopContainers } from './switch-traffic.ts';

/** A container that stays up this long has recovered: its next crash restarts at once again. */
const STABLE_MS = 60_000;
/** Quick failures in a row before the container is shown as `crashed`. */
const CRASHED_AFTER = 3;
const MAX_BACKOFF_MS = 5 * 60_000;

export interface CrashSupervisor {
  /** Cancels pending restarts (server shutdown). */
  close(): void;
}

export function superviseCrashes(deps: PipelineDeps, live: LiveContainers, locks: AppLocks): CrashSupervisor {
  const timers = new Set<NodeJS.Timeout>();
  /** `app/web-1` → quick failures in a row. */
  const streaks = new Map<string, number>();
  let closed = false;

  const log = (app: string, source: string, line: string) => deps.appLogs.write(app, source, `[slipway] ${line}`);

  function delayFor(failures: number): number {
    return failures <= 1 ? 0 : Math.min(deps.settings.restartBackoffMs * 2 ** (failures - 2), MAX_BACKOFF_MS);
  }

  /** Records one failure of the container in slot `dead` and schedules its restart. */
  async function failed(app: string, dead: LiveContainer, stayedUpMs: number, why: string): Promise<void> {
    const key = `${app}/${dead.name}`;
    const failures = stayedUpMs >= STABLE_MS ? 1 : (streaks.get(key) ?? 0) + 1;
    streaks.set(key, failures);
    const crashed = failures >= CRASHED_AFTER;
    await deps.store.containers.setState(dead.id, crashed ? 'crashed' : 'starting');
    const delay = delayFor(failures);
    log(
      app,
      dead.name,
      `${dead.name} ${why}; ${crashed ? `crashed ${failures} times in a row, ` : ''}restarting ${delay ? `in ${formatMs(delay)}` : 'now'}`,
    );
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      restart(app, dead).catch((err) => deps.logger.error({ err, app, container: dead.name }, 'crash restart failed'));
    }, delay);
    timer.unref();
    timers.add(timer);
  }

  async function restart(app: string, dead: LiveContainer): Promise<void> {
    await locks.with(app, async () => {
      if (closed || !live.has(app, dead.id)) return; // scaled down, redeployed or destroyed meanwhile
      const release = await deps.store.releases.get(app, dead.releaseVersion);
      const command = release?.processes[dead.type];
      if (!release || command === undefined) return;
      const started: LiveContainer[] = [];
      const t0 = Date.now();
      try {
        const booted = await bootRelease(deps, release, {
          log: () => {},
          signal: AbortSignal.timeout(bootTimeoutMs(deps, await deps.store.apps.require(app)) + 5000),
          started,
          plan: [{ type: dead.type, index: dead.index, command }],
          restarts: dead.restarts + 1,
        });
        booted.disarm();
      } catch (err) {
        await stopContainers(deps, started);
        const why = isSlipwayError(err) ? err.message.replace(/ during boot$/, ' while restarting') : String(err);
        await failed(app, dead, Date.now() - t0, why);
        return;
      }
      const [fresh] = started;
      if (!fresh) return;
      await deps.store.containers.remove(dead.id);
      live.replace(app, dead.id, fresh);
      await routeApp(deps, app, live.running(app));
      log(app, fresh.name, `${fresh.name} restarted (restart ${fresh.restarts})`);
    });
  }

  live.onUnexpectedExit((app, container, exit) => {
    const upMs = Date.now() - Date.parse(container.startedAt);
    locks
      .with(app, () => routeApp(deps, app, live.running(app)))
      .then(() => failed(app, container, upMs, `process ${describeExit(exit)}`))
      .catch((err) => deps.logger.error({ err, app, container: container.name }, 'handling a container exit failed'));
  });

  return {
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
