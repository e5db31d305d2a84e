// Deploying from a URL (POST /api/apps/:app/deployments with JSON
// {source_url, git_ref}) and from a GitHub push: the source is fetched during
// the request (the API answers once it is fetched and checked), then deployed
// like an upload.

import { SlipwayError } from '../core/errors.ts';
import type { Deployment } from '../core/types.ts';
import { fetchSource } from '../source/fetch-source.ts';
import { parseSourceUrl } from '../source/fetch-url.ts';
import { deploySource } from './deploy-source.ts';
import type { IntakeContext } from './intake-context.ts';

export interface UrlRequest {
  readonly source_url: unknown;
  readonly git_ref?: unknown;
}

export function isUrlRequest(body: unknown): body is UrlRequest {
  return typeof body === 'object' && body !== null && 'source_url' in body;
}

export interface UrlDeploy {
  readonly url: string;
  readonly ref: string | null;
  /** Recorded as the deployment's source: `url` or `github`. */
  readonly source: string;
  readonly author: string | null;
  readonly token?: string | null;
}

export async function deployFromUrl(
  ctx: IntakeContext,
  app: string,
  body: UrlRequest,
  author: string | null,
): Promise<Deployment> {
  if (body.git_ref !== undefined && body.git_ref !== null && typeof body.git_ref !== 'string') {
    throw new SlipwayError('request.invalid', 'git_ref must be a string');
  }
  const ref = body.git_ref ? body.git_ref : null;
  return deployUrl(ctx, app, { url: body.source_url as string, ref, source: 'url', author });
}

export async function deployUrl(ctx: IntakeContext, app: string, request: UrlDeploy): Promise<Deployment> {
  ctx.disk.check('the deployment'); // before anything is downloaded
  const fetched = await fetchSource({
    url: parseSourceUrl(request.url),
    ref: request.ref,
    spoolDir: ctx.spoolDir,
    limits: ctx.fetchLimits,
    checkArchive: ctx.checkArchive,
    token: request.token ?? null,
  });
  return deploySource(
    ctx,
    app,
    { file: fetched.file, checked: true, summary: fetched.summary },
    { source: request.source, commitSha: fetched.commitSha, gitRef: fetched.gitRef, author: request.author },
  );
}
