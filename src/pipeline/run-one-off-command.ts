// The postdeploy hook (DESIGN §1 step 4): a one-off container of the new
// release runs `/bin/sh -c "<command>"`, its output streamed into the
// deployment log as it happens. It must exit 0 within the timeout, else the
// deployment ends `hook-error` and its whole process tree is killed.

import { DEFAULT_CONTAINER_SIZE } from '../core/container-size.ts';
import { SlipwayError } from '../core/errors.ts';
import type { HookPlan } from '../core/resolve-hook.ts';
import type { App, Release } from '../core/types.ts';
import { describeExit, type PreparedContainer } from '../runtime/types.ts';
import { baseSpec } from './container-spec.ts';
import { formatMs } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';

/**
 * The hook's one-off container, made ready to run (view, cgroups) without
 * running anything: the deployment prepares it while the new containers boot.
 */
export function prepareHookContainer(
  deps: PipelineDeps,
  app: App,
  release: Release,
  hook: HookPlan,
  log: { output(line: string): void },
): Promise<PreparedContainer> {
  return deps.runtime.prepare({
    ...baseSpec(deps, app, release, { type: 'postdeploy', index: 1 }, app.hookSize ?? DEFAULT_CONTAINER_SIZE),
    command: hook.command,
    exposePort: false,
    onLine: (_stream, line) => log.output(`       ${line}`),
  });
}

/**
 * Runs the prepared hook container until its command ends; resolves when it
 * exited 0. Its view is removed in the background: the driver tracks it.
 */
export async function runPostdeploy(
  container: Promise<PreparedContainer>,
  hook: HookPlan,
  timeoutMs: number,
  log: { log(line: string): void },
  interrupt: Promise<never>,
  onExitCode: (code: number | null) => Promise<void>,
): Promise<void> {
  log.log(`       command (from ${hook.source}): ${hook.command}`);
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
        'deploy.hook_timeout',
        `postdeploy hook ran past its timeout of ${formatMs(timeoutMs)} and was killed with its child processes`,
      );
    }
    ended = true;
    await onExitCode(winner.code);
    if (winner.code !== 0) {
      throw new SlipwayError('deploy.hook_failed', `postdeploy hook ${describeExit(winner)}`, {
        exitCode: winner.code,
      });
    }
    log.log(`       postdeploy hook succeeded`);
  } finally {
    clearTimeout(timer);
    if (!ended) await handle.stop(0); // kills it on interrupt; a no-op after the timeout's stop
  }
}
