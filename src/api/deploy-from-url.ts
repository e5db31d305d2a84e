// Deploying from a URL (POST /api/apps/:app/deployments with JSON
// {source_url, git_ref}) and from a GitHub push: the source is fetched during
// the request (the API answers once it is fetched and checked), then deployed
// like an upload.

import fs from 'node:fs';
import { SlipwayError } from '../core/errors.ts';
import type { Deployment } from '../core/types.ts';
import { fetchSource } from '../source/fetch-source.ts';
import { parseSourceUrl } from '../source/fetch-url.ts';
import type { ApiContext } from './api-context.ts';

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
  ctx: ApiContext,
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

export async function deployUrl(ctx: ApiContext, app: string, request: UrlDeploy): Promise<Deployment> {
  ctx.disk.check('the deployment'); // before anything is downloaded
  const fetched = await fetchSource({
    url: parseSourceUrl(request.url),
    ref: request.ref,
    spoolDir: ctx.spoolDir,
    limits: ctx.fetchLimits,
    checkArchive: ctx.checkArchive,
    token: request.token ?? null,
  });
  const deployment = await ctx.pipeline
    .deployArchive(app, fetched.file, {
      source: request.source,
      commitSha: fetched.commitSha,
      gitRef: fetched.gitRef,
      author: request.author,
    })
    .catch(async (err) => {
      await fs.promises.rm(fetched.file, { force: true });
      throw err;
    });
  ctx.logs.append(deployment.id, `-----> ${fetched.summary}`);
  return deployment;
}
