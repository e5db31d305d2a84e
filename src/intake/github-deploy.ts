// Deploying a GitHub push in the background (GitHub gives a webhook 10 s to be
// answered): fetch the commit by git from `<githubUrl>/<owner>/<repo>.git`,
// queue its deployment, and report commit statuses with the link's token:
// `pending` once queued, then `success`, `failure` or `error` (aborted, or the
// commit could not be fetched). Pushes to one app are fetched and queued one at
// a time, in the order their webhooks arrived (the pipeline's intake scope,
// shared with git pushes). Reporting is best effort: a
// failure is logged and never changes the deployment.

import { isSlipwayError } from '../core/errors.ts';
import type { DeploymentStatus } from '../core/lifecycle.ts';
import type { PushEvent } from '../source/github-push-event.ts';
import { postCommitStatus, type StatusState } from '../source/github-status.ts';
import type { GithubLink } from '../store/types.ts';
import { deployUrl } from './deploy-from-url.ts';
import type { IntakeContext } from './intake-context.ts';
import { waitForDeployment } from './wait-deployment.ts';

const FINAL_STATE: Partial<Record<DeploymentStatus, StatusState>> = { success: 'success', aborted: 'error' };

export function githubDeployer(ctx: IntakeContext) {
  return {
    /** Starts the deployment of a push; `baseUrl` is Slipway's URL as GitHub reached it (for log links). */
    start(link: GithubLink, push: PushEvent, baseUrl: string): void {
      void deployPush(ctx, link, push, baseUrl).catch((err) =>
        ctx.logger.error({ err, app: link.app }, 'GitHub push deployment failed'),
      );
    },
  };
}

async function deployPush(ctx: IntakeContext, link: GithubLink, push: PushEvent, baseUrl: string): Promise<void> {
  const { app } = link;
  const report = async (state: StatusState, description: string, targetUrl: string) => {
    if (!link.token) return;
    const failure = await postCommitStatus({
      apiUrl: ctx.github.apiUrl,
      repo: push.repo,
      sha: push.sha,
      token: link.token,
      state,
      targetUrl,
      context: `slipway/${app}`,
      description,
    });
    if (failure) ctx.logger.warn({ app, sha: push.sha, state, failure }, 'could not report a GitHub commit status');
  };
  let deployment: Awaited<ReturnType<typeof deployUrl>>;
  try {
    deployment = await ctx.pipeline.serializeIntake(app, () =>
      deployUrl(ctx, app, {
        url: `${ctx.github.url}/${push.repo}.git`,
        ref: push.sha,
        source: 'github',
        author: push.pusher ? `github:${push.pusher}` : 'github',
        token: link.token,
      }),
    );
  } catch (err) {
    const message = isSlipwayError(err) ? err.message : 'internal error';
    ctx.logger.warn({ app, sha: push.sha, err }, 'could not deploy a GitHub push');
    await report('error', `Not deployed: ${message}`, `${baseUrl}/api/apps/${app}/deployments`);
    return;
  }
  const target = `${baseUrl}/api/apps/${app}/deployments/${deployment.id}/logs`;
  await report('pending', `Deployment ${deployment.id} queued`, target);
  const final = await waitForDeployment(ctx, deployment.id);
  const status: DeploymentStatus = final?.status ?? 'build-error';
  const why = final?.error?.message ? `: ${final.error.message}` : '';
  await report(FINAL_STATE[status] ?? 'failure', `Deployment ${deployment.id}: ${status}${why}`, target);
}
