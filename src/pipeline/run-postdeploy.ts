// The postdeploy hook (DESIGN §1 step 4): a one-off container of the new
// release runs `/bin/sh -c "<command>"`, its output streamed into the
// deployment log as it happens. It must exit 0 within the timeout, else the
// deployment ends `hook-error` and its whole process tree is killed.

import { performance } from 'node:perf_hooks';
import { DEFAULT_CONTAINER_SIZE } from '../core/container-size.ts';
import { SlipwayError } from '../core/errors.ts';
import type { HookPlan } from '../core/resolve-hook.ts';
import type { App, Release } from '../core/types.ts';
import { describeExit } from '../runtime/types.ts';
import { baseSpec } from './container-spec.ts';
import { formatMs } from './deploy-context.ts';
import type { PipelineDeps } from './deps.ts';

export interface HookOutcome {
  readonly exitCode: number | null;
  /** Milliseconds from asking the runtime for the container to its first moment running. */
  readonly startMs: number;
}

export async function runPostdeploy(
  deps: PipelineDeps,
  app: App,
  release: Release,
  hook: HookPlan,
  timeoutMs: number,
  log: { log(line: string): void; output(line: string): void },
  interrupt: Promise<never>,
  onExitCode: (code: number | null) => Promise<void>,
): Promise<HookOutcome> {
  log.log(`       command (from ${hook.source}): ${hook.command}`);
  const t0 = performance.now();
  const handle = await deps.runtime.start({
    ...baseSpec(deps, app, release, { type: 'postdeploy', index: 1 }, app.hookSize ?? DEFAULT_CONTAINER_SIZE),
    command: hook.command,
    exposePort: false,
    onLine: (_stream, line) => log.output(`       ${line}`),
  });
  const startMs = performance.now() - t0;

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const winner = await Promise.race([handle.exited, timedOut, interrupt]);
    if (winner === 'timeout') {
      await handle.stop(0);
      await onExitCode(null);
      throw new SlipwayError(
        'deploy.hook_timeout',
        `postdeploy hook ran past its timeout of ${formatMs(timeoutMs)} and was killed with its child processes`,
      );
    }
    await onExitCode(winner.code);
    if (winner.code !== 0) {
      throw new SlipwayError('deploy.hook_failed', `postdeploy hook ${describeExit(winner)}`, {
        exitCode: winner.code,
      });
    }
    log.log(`       postdeploy hook succeeded`);
    return { exitCode: 0, startMs };
  } finally {
    clearTimeout(timer);
    await handle.stop(0); // a no-op once it has exited; kills it on interrupt
  }
}
