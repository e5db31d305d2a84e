// The one-off steps of a deployment (DESIGN §1): Heroku's release phase
// before the new containers boot, and the postdeploy hook before the switch,
// each in a one-off container of the new release; before the hook, the
// app's databases are backed up, and restored after a failed hook when the
// app asks for it (docs/addons.md).

import { type HookPlan, resolveHook } from '../core/resolve-hook.ts';
import type { App, Release } from '../core/types.ts';
import type { PreparedContainer } from '../runtime/types.ts';
import { DEADLINE_MARGIN_MS, type DeployContext } from './deploy-context.ts';
import { type OneOffCommand, prepareOneOff, rejectOnAbort, runOneOff } from './run-one-off-command.ts';

export interface PlannedHook {
  readonly plan: HookPlan;
  readonly app: App;
}

/** The hook this deployment runs, if the release defines one. */
export async function planHook(ctx: DeployContext, release: Release): Promise<PlannedHook | null> {
  const { deps } = ctx;
  const plan = resolveHook({
    procfilePostdeploy: release.procfilePostdeploy,
    manifest: release.manifest,
    firstSuccessfulDeploy: !(await deps.store.deployments.hasSucceeded(ctx.app)),
  });
  return plan ? { plan, app: await deps.store.apps.require(ctx.app) } : null;
}

export async function runHookStep(
  ctx: DeployContext,
  release: Release,
  hook: PlannedHook | null,
  prepared: Promise<PreparedContainer> | undefined,
  crashed: Promise<never>,
): Promise<void> {
  if (!hook) {
    ctx.log('-----> No postdeploy hook defined (Procfile "postdeploy:" or app.json scripts.postdeploy)');
    return;
  }
  const container = prepared ?? prepareOneOff(ctx.deps, hook.app, release, hookCommand(hook), ctx);
  const { plan, app } = hook;
  await ctx.update({ hook: { command: plan.command, source: plan.source, exitCode: null } });
  const timeoutMs = app.hookTimeoutMs ?? ctx.deps.settings.hookTimeoutMs;
  const deadline = { deadlineMs: timeoutMs + DEADLINE_MARGIN_MS };
  await ctx.step(
    'hook',
    async (signal) => {
      const backup = await ctx.deps.backupBeforeHook?.(ctx.app, signal);
      for (const line of backup?.taken ?? []) ctx.log(`-----> Backed up ${line} before the hook`);
      try {
        await runOneOff(
          container,
          hookCommand(hook),
          timeoutMs,
          ctx,
          Promise.race([crashed, rejectOnAbort(signal)]),
          (exitCode) => ctx.update({ hook: { command: plan.command, source: plan.source, exitCode } }),
        );
      } catch (err) {
        if (backup) await afterFailedHook(ctx, backup, app.restoreOnHookFailure);
        throw err;
      }
    },
    deadline,
  );
}

export const hookCommand = ({ plan }: PlannedHook): OneOffCommand => ({ type: 'postdeploy', ...plan });

type HookBackup = NonNullable<Awaited<ReturnType<NonNullable<DeployContext['deps']['backupBeforeHook']>>>>;

/**
 * After a failed hook of an app with databases: restores their pre-hook backups when the app asks
 * for it (apps:update --restore-on-hook-failure on), else names the commands that would. A failed
 * restore is logged with those commands; the deployment fails for its hook either way.
 */
async function afterFailedHook(ctx: DeployContext, backup: HookBackup, restore: boolean): Promise<void> {
  if (restore) {
    ctx.log(
      '-----> The hook failed: restoring the databases from the backups taken before it (--restore-on-hook-failure)',
    );
    try {
      for (const line of await backup.restore()) ctx.log(`-----> ${line}`);
      return;
    } catch (err) {
      ctx.log(`-----> The restore failed: ${(err as Error).message}`);
    }
  }
  ctx.log('-----> The hook may have changed the database: to go back, restore the backup taken before it:');
  for (const line of backup.onFailure) ctx.log(`       ${line}`);
}

/**
 * Heroku's release phase (DESIGN §1, 2b): the release's `release:` command,
 * once, in a one-off container of the new release, before any of its
 * containers boot; on builds, config changes, rollbacks and redeploys alike.
 * Its failure keeps the current release serving (`hook-error`, step `release`).
 */
export async function runReleasePhase(ctx: DeployContext, release: Release): Promise<void> {
  const command = release.releaseCommand;
  if (!command) return;
  const app = await ctx.deps.store.apps.require(ctx.app);
  const timeoutMs = app.hookTimeoutMs ?? ctx.deps.settings.hookTimeoutMs;
  const oneOff: OneOffCommand = { type: 'release', command, source: 'Procfile' };
  await ctx.step(
    'release',
    (signal) =>
      runOneOff(
        prepareOneOff(ctx.deps, app, release, oneOff, ctx),
        oneOff,
        timeoutMs,
        ctx,
        rejectOnAbort(signal),
        async () => {},
      ),
    { deadlineMs: timeoutMs + DEADLINE_MARGIN_MS },
  );
}
