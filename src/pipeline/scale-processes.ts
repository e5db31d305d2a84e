// Scale and restart (DESIGN §3 `scale`, `restart`): change the running
// containers of the current release without a deployment. Both keep web
// traffic whole: new containers start and accept connections before they
// join the router, and old ones leave the router and finish their in-flight
// requests before they stop. Callers hold the app's lock.

import { containerName } from '../core/container-env.ts';
import { SlipwayError } from '../core/errors.ts';
import { isProcessType, MAX_PROCESS_TYPES } from '../core/parse-procfile.ts';
import type { Release } from '../core/types.ts';
import { bootRelease, bootTimeoutMs, type PlannedContainer, plannedContainers } from './boot-release.ts';
import { currentRelease } from './current-release.ts';
import type { PipelineDeps } from './deps.ts';
import type { LiveContainer, LiveContainers } from './live-containers.ts';
import { retireContainers, routeApp, stopContainers } from './switch-traffic.ts';

/** At most this many containers of one process type, and of one app (all types together). */
export const MAX_QUANTITY = 100;
export const MAX_CONTAINERS_PER_APP = 100;

/** Checks new quantities against the release's types and the caps; `stored` is today's formation. */
export function validateQuantities(
  app: string,
  release: Release | null,
  quantities: Readonly<Record<string, unknown>>,
  stored: Readonly<Record<string, number>>,
) {
  const entries = Object.entries(quantities);
  if (entries.length === 0) throw new SlipwayError('formation.invalid', 'give at least one TYPE=QUANTITY');
  const known = release ? Object.keys(release.processes) : null;
  for (const [type, quantity] of entries) {
    if (known && !known.includes(type)) {
      throw new SlipwayError(
        'formation.invalid',
        `no process type "${type}" in ${app}'s release v${release?.version} (it has: ${known.join(', ')})`,
      );
    }
    // Before the first release, any name a Procfile could declare (its own release checks it then).
    if (!known && !isProcessType(type)) {
      throw new SlipwayError('formation.invalid', `"${type}" cannot be a process type name`);
    }
    if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY) {
      throw new SlipwayError(
        'formation.invalid',
        `quantity of "${type}" must be a whole number from 0 to ${MAX_QUANTITY}`,
      );
    }
  }
  const valid = Object.fromEntries(entries) as Record<string, number>;
  const types = known ?? [...new Set([...Object.keys(stored), ...Object.keys(valid)])];
  if (types.length > MAX_PROCESS_TYPES) {
    throw new SlipwayError('formation.invalid', `at most ${MAX_PROCESS_TYPES} process types per app`);
  }
  const total = types.reduce((sum, type) => sum + (valid[type] ?? stored[type] ?? 1), 0);
  if (total > MAX_CONTAINERS_PER_APP) {
    throw new SlipwayError(
      'formation.invalid',
      `${app} would run ${total} containers: at most ${MAX_CONTAINERS_PER_APP} per app, all process types together`,
    );
  }
  return valid;
}

/** Brings the live containers of the current release in line with the stored formation. */
export async function applyFormation(deps: PipelineDeps, live: LiveContainers, app: string): Promise<void> {
  const release = await currentRelease(deps.store, app);
  const planned = await plannedContainers(deps, release);
  const wanted = new Set(planned.map(containerName));
  const current = live.get(app);
  const keep = current.filter((c) => wanted.has(c.name) && c.releaseVersion === release.version);
  const kept = new Set(keep.map((c) => c.name));
  const toStart = planned.filter((p) => !kept.has(containerName(p)));
  const toStop = current.filter((c) => !keep.includes(c));

  const started = await bootPart(deps, release, toStart);
  live.set(app, [...keep, ...started]);
  await routeApp(deps, app, live.running(app));
  await retireContainers(deps, toStop);
}

/** Replaces the containers of one type (or all), one at a time: rolling for web. */
export async function restartProcesses(
  deps: PipelineDeps,
  live: LiveContainers,
  app: string,
  type: string | undefined,
): Promise<number> {
  const release = await currentRelease(deps.store, app);
  if (type !== undefined && !Object.hasOwn(release.processes, type)) {
    throw new SlipwayError('formation.invalid', `no process type "${type}" in ${app}'s current release`);
  }
  const targets = live.get(app).filter((c) => type === undefined || c.type === type);
  for (const old of targets) {
    const command = release.processes[old.type];
    if (command === undefined) continue;
    const [fresh] = await bootPart(deps, release, [{ type: old.type, index: old.index, command }]);
    if (!fresh) continue;
    live.replace(app, old.id, fresh);
    await routeApp(deps, app, live.running(app));
    await retireContainers(deps, [old]);
  }
  return targets.length;
}

/**
 * Boots containers of a release (by default its whole formation: a restart of
 * the control plane), logging to the app log; on failure stops them and rethrows.
 */
export async function bootPart(
  deps: PipelineDeps,
  release: Release,
  plan?: readonly PlannedContainer[],
): Promise<LiveContainer[]> {
  if (plan?.length === 0) return [];
  const started: LiveContainer[] = [];
  try {
    const booted = await bootRelease(deps, release, {
      log: (line) => deps.appLogs.write(release.app, 'slipway', `[slipway] ${line.trim()}`),
      signal: AbortSignal.timeout(bootTimeoutMs(deps, await deps.store.apps.require(release.app)) + 5000),
      started,
      plan,
    });
    booted.disarm();
    return started;
  } catch (err) {
    await stopContainers(deps, started);
    throw err;
  }
}
