// A git push to an app's repository (source/git-push.ts receives it): its
// commit's tree is deployed like any source, and the push waits for the
// deployment's end, its log streamed to the pusher as `remote:` lines.

import type { PushDeployer } from '../source/git-push.ts';
import { deploySource } from './deploy-source.ts';
import type { IntakeContext } from './intake-context.ts';
import { waitForDeployment } from './wait-deployment.ts';

export function pushDeployer(ctx: IntakeContext, app: string, author: string): PushDeployer {
  return {
    async currentCommit() {
      return (await ctx.pipeline.currentRelease(app))?.commitSha ?? null;
    },
    async deploy(archive, commit, onLine) {
      const deployment = await deploySource(
        ctx,
        app,
        { file: archive, summary: `Commit ${commit.sha} by ${commit.author}: ${commit.subject}` },
        { source: 'git', commitSha: commit.sha, gitRef: commit.ref.replace(/^refs\/heads\//, ''), author },
      );
      const final = await waitForDeployment(ctx, deployment.id, onLine);
      if (final?.status === 'success') return { ok: true, summary: `Deployed ${commit.sha.slice(0, 7)} to ${app}` };
      const why = final?.error?.message ?? final?.status ?? 'unknown outcome';
      return { ok: false, summary: `Deployment ${deployment.id} failed (${final?.status}): ${why}` };
    },
  };
}
