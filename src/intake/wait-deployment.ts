// Waits for a deployment to end (its log finishes), passing its log lines on
// meanwhile; resolves with the final record. Used by git push and GitHub pushes.

import { isFinal } from '../core/lifecycle.ts';
import type { Deployment } from '../core/types.ts';
import type { IntakeContext } from './intake-context.ts';

export async function waitForDeployment(
  ctx: Pick<IntakeContext, 'logs' | 'deployment'>,
  id: string,
  onLine: (line: string) => void = () => {},
): Promise<Deployment | undefined> {
  await new Promise<void>((resolve) => {
    const stop = ctx.logs.follow(id, onLine, () => {
      stop();
      resolve();
    });
    void ctx.deployment(id).then((now) => {
      if (now && isFinal(now.status) && !ctx.logs.isOpen(id)) resolve();
    });
  });
  return ctx.deployment(id);
}
