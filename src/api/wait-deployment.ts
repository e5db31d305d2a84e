// Waits for a deployment to end (its log finishes), passing its log lines on
// meanwhile; resolves with the final record. Used by git push and GitHub pushes.

import { isFinal } from '../core/lifecycle.ts';
import type { Deployment } from '../core/types.ts';
import type { ApiContext } from './api-context.ts';

export async function waitForDeployment(
  ctx: Pick<ApiContext, 'logs' | 'store'>,
  id: string,
  onLine: (line: string) => void = () => {},
): Promise<Deployment | undefined> {
  await new Promise<void>((resolve) => {
    const stop = ctx.logs.follow(id, onLine, () => {
      stop();
      resolve();
    });
    void ctx.store.deployments.get(id).then((now) => {
      if (now && isFinal(now.status) && !ctx.logs.isOpen(id)) resolve();
    });
  });
  return ctx.store.deployments.get(id);
}
