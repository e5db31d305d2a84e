// The one-off commands of a deployment, each in a one-off container of the
// new release running `/bin/sh -c "<command>"`, its output streamed into the
// deployment log as it happens: Heroku's release phase (`release:`, before
// the new containers boot) and the postdeploy hook (DESIGN §1 step 4, after
// they boot). Each must exit 0 within its timeout, else the deployment ends
// `hook-error` and the command's whole process tree is killed.

import { DEFAULT_CONTAINER_SIZE } from '../core/container-size.ts';
import { type ErrorCode, SlipwayError } from '../core/errors.ts';
import type { App, Release } from '../core/types.ts';
import { describeExit, type PreparedContainer } from '../runtime/types.ts';
import { baseSpec } from './container-spec.ts';
import { formatMs } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';

/** One of the deployment's one-off commands. */
export interface OneOffCommand {
  /** The container's type: `postdeploy-1` or `release-1`. */
  readonly type: 'postdeploy' | 'release';
  readonly command: string;
  /** Where it was declared: `Procfile`, `app.json scripts.postdeploy`... */
  readonly source: string;
}

const NAMES = { postdeploy: 'postdeploy hook', release: 'release phase' } as const;
const ERRORS: Record<OneOffCommand['type'], { failed: ErrorCode; timedOut: ErrorCode }> = {
  postdeploy: { failed: 'deploy.hook_failed', timedOut: 'deploy.hook_timeout' },
  release: { failed: 'deploy.release_failed', timedOut: 'deploy.release_timeout' },
};

/**
 * The command's one-off container, made ready to run (view, cgroups) without
 * running anything: the deployment prepares the hook's while the new
 * containers boot. It runs in the size of the app's hook.
 */
export function prepareOneOff(
  deps: PipelineDeps,
  app: App,
  release: Release,
  oneOff: OneOffCommand,
  log: { output(line: string): void },
): Promise<PreparedContainer> {
  return deps.runtime.prepare({
    ...baseSpec(deps, app, release, { type: oneOff.type, index: 1 }, app.hookSize ?? DEFAULT_CONTAINER_SIZE),
    command: oneOff.command,
    exposePort: false,
    onLine: (_stream, line) => log.output(`       ${line}`),
  });
}

/**
 * Runs the prepared container until its command ends; resolves when it
 * exited 0. Its view is removed in the background: the driver tracks it.
 */
export async function runOneOff(
  container: Promise<PreparedContainer>,
  oneOff: OneOffCommand,
  timeoutMs: number,
  log: { log(line: string): void },
  interrupt: Promise<never>,
  onExitCode: (code: number | null) => Promise<void>,
): Promise<void> {
  const name = NAMES[oneOff.type];
  // It may reject while the container starts (a new web crashes meanwhile): observed from now on.
  interrupt.catch(() => {});
  log.log(`       command (from ${oneOff.source}): ${oneOff.command}`);
  const handle = await (await container).start();
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const winner = await Promise.race([handle.ended, timedOut, interrupt]);
    if (winner === 'timeout') {
      await handle.stop(0);
      await onExitCode(null);
      throw new SlipwayError(
        ERRORS[oneOff.type].timedOut,
        `${name} ran past its timeout of ${formatMs(timeoutMs)} and was killed with its child processes`,
      );
    }
    ended = true;
    await onExitCode(winner.code);
    if (winner.code !== 0) {
      throw new SlipwayError(ERRORS[oneOff.type].failed, `${name} ${describeExit(winner)}`, {
        exitCode: winner.code,
      });
    }
    log.log(`       ${name} succeeded`);
  } finally {
    clearTimeout(timer);
    if (!ended) await handle.stop(0); // kills it on interrupt; a no-op after the timeout's stop
  }
}

/** Rejects with `deploy.aborted` once `signal` aborts (observed, so never unhandled). */
export function rejectOnAbort(signal: AbortSignal): Promise<never> {
  const aborted = new Promise<never>((_resolve, reject) => {
    const onAbort = () => reject(new SlipwayError('deploy.aborted', `deployment aborted: ${String(signal.reason)}`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  return aborted;
}
