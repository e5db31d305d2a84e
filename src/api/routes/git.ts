// Git over smart HTTP at /git/<app>.git: fetch (upload-pack) and push
// (receive-pack, which deploys the app's main branch; see source/git-push.ts).
// Basic auth with the API token as password, for fetch and push alike. Errors
// are plain text, which git shows to the user as `remote:` lines.

import { PassThrough, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSlipwayError, SlipwayError } from '../../core/errors.ts';
import { formatBytes } from '../../core/format-bytes.ts';
import { pushDeployer } from '../../intake/push-deployer.ts';
import { receivePush, refusePush } from '../../source/git-push.ts';
import { ensureRepo } from '../../source/git-repo.ts';
import { advertiseRefs, type GitService, isGitService, startService } from '../../source/git-service.ts';
import type { ApiContext } from '../api-context.ts';
import { httpStatusOf } from '../error-status.ts';

type RepoParams = { Params: { repo: string } };
const REQUEST_TYPES = ['application/x-git-upload-pack-request', 'application/x-git-receive-pack-request'];

export function gitRoutes(api: FastifyInstance, ctx: ApiContext): void {
  api.addContentTypeParser(REQUEST_TYPES, (_request, payload, done) => done(null, payload));

  /** Finds the app and its repository (created on first use). */
  const open = async (request: FastifyRequest<RepoParams>) => {
    const author = request.author ?? 'git';
    const name = request.params.repo.replace(/\.git$/, '');
    const app = await ctx.store.apps.get(name);
    if (!app) throw new SlipwayError('app.not_found', `app "${name}" not found`);
    return { app, author, repo: await ensureRepo(ctx.reposDir, app.name, app.createdAt) };
  };

  const git = { config: { access: 'git' } } as const; // basic auth, answered in plain text (api/auth.ts)
  api.get<RepoParams & { Querystring: { service?: string } }>('/git/:repo/info/refs', git, (request, reply) =>
    answer(reply, async () => {
      const { service } = request.query;
      if (!isGitService(service)) {
        throw new SlipwayError('request.invalid', 'only the smart HTTP protocol is served: use git 1.7 or later');
      }
      const { repo } = await open(request);
      // A push is refused here, its first request, while the disk is under the reserve: git shows the text.
      if (service === 'git-receive-pack') ctx.disk.check('git push');
      const body = await advertiseRefs(ctx.reposDir, repo, service);
      return reply.type(`application/x-${service}-advertisement`).header('cache-control', 'no-cache').send(body);
    }),
  );

  api.post<RepoParams>('/git/:repo/git-upload-pack', git, (request, reply) =>
    answer(reply, async () => {
      const { repo } = await open(request);
      const handle = startService(ctx.reposDir, repo, 'git-upload-pack', { stdin: requestBody(request, ctx) });
      return sendResult(reply, 'git-upload-pack').send(handle.stdout);
    }),
  );

  api.post<RepoParams>('/git/:repo/git-receive-pack', git, (request, reply) =>
    answer(reply, async () => {
      const { app, author, repo } = await open(request);
      const refused = diskRefusal(ctx);
      if (refused !== null) {
        // The reserve was reached since info/refs: an answer git understands, nothing stored.
        const answer = await refusePush(requestBody(request, ctx), refused, 'refused: server disk nearly full');
        return sendResult(reply, 'git-receive-pack').send(answer);
      }
      const received = await receivePush({
        reposDir: ctx.reposDir,
        repo,
        spoolDir: ctx.spoolDir,
        body: requestBody(request, ctx),
        lock: (fn) => ctx.pipeline.serializeIntake(app.name, fn),
      });
      const out = new PassThrough();
      sendResult(reply, 'git-receive-pack').send(out);
      received
        .finish(pushDeployer(ctx.intake, app.name, author), (chunk) => out.write(chunk))
        .catch((err) => request.log.error({ err, app: app.name }, 'git push failed after receive-pack'))
        .finally(() => out.end());
      return reply;
    }),
  );
}

/** The reason a push is refused for want of disk space, or null. */
function diskRefusal(ctx: ApiContext): string | null {
  try {
    ctx.disk.check('git push');
    return null;
  } catch (err) {
    if (isSlipwayError(err, 'disk.reserve_reached')) return err.message;
    throw err;
  }
}

function sendResult(reply: FastifyReply, service: GitService): FastifyReply {
  return reply.type(`application/x-${service}-result`).header('cache-control', 'no-cache');
}

/** Runs a handler; a failure becomes a plain-text answer (401 asks git for credentials). */
async function answer(reply: FastifyReply, handler: () => Promise<FastifyReply>): Promise<FastifyReply> {
  try {
    return await handler();
  } catch (err) {
    if (!isSlipwayError(err)) throw err;
    const status = httpStatusOf(err.code);
    if (status === 401) reply.header('www-authenticate', 'Basic realm="Slipway"');
    return reply.code(status).type('text/plain; charset=utf-8').send(`${err.message}\n`);
  }
}

/** The request body, un-gzipped when git compressed it, cut off past the upload cap. */
function requestBody(request: FastifyRequest, ctx: ApiContext): Readable {
  const raw = request.body as Readable;
  const decoded = request.headers['content-encoding'] === 'gzip' ? raw.pipe(createGunzip()) : raw;
  let seen = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      seen += chunk.length;
      if (seen > ctx.maxUploadBytes) {
        callback(
          new SlipwayError('source.too_large', `push is larger than the limit of ${formatBytes(ctx.maxUploadBytes)}`),
        );
      } else callback(null, chunk);
    },
  });
  decoded.on('error', (err) => limited.destroy(err));
  return decoded.pipe(limited);
}
