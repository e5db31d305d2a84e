// GitHub integration. /api/apps/:app/integrations/github links an app to a
// repository (a generated webhook secret, shown once; a token for commit
// statuses, stored, never returned). POST /hooks/github receives webhooks:
// outside /api (no Bearer token), authenticated by X-Hub-Signature-256 over
// the raw body with a linked app's secret, checked as the body streams in and
// before it is parsed, with at most four bodies read at once; a push to the linked branch deploys
// that commit (api/github-deploy.ts), everything else gets 202 with a reason.

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SlipwayError } from '../../core/errors.ts';
import { githubDeployer } from '../../intake/github-deploy.ts';
import { isValidRef } from '../../source/fetch-git.ts';
import { ignoreReason, parsePush, payloadRepo } from '../../source/github-push-event.ts';
import { readSignedBody, SIGNATURE_HEADER } from '../../source/github-signature.ts';
import type { GithubLink } from '../../store/types.ts';
import type { ApiContext } from '../api-context.ts';

type AppParams = { Params: { app: string } };
type LinkBody = { repo?: unknown; branch?: unknown; auto_deploy?: unknown; token?: unknown };

const REPO = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const TOKEN = /^[\x21-\x7e]{1,1000}$/;
const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024; // GitHub's own cap on payloads
/** Webhook bodies read at once (each up to 25 MiB in memory until its signature is known). */
const MAX_WEBHOOKS_IN_FLIGHT = 4;
const WEBHOOK_BODY_DEADLINE_MS = 30_000;

export function githubRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  api.put<AppParams & { Body: LinkBody }>('/api/apps/:app/integrations/github', async (request) => {
    const { app } = request.params;
    const body = request.body ?? {};
    if (typeof body.repo !== 'string' || !REPO.test(body.repo) || body.repo.includes('..')) {
      throw new SlipwayError('github.invalid_repo', 'repo must be OWNER/REPO, e.g. octocat/hello-world');
    }
    const branch = body.branch ?? 'main';
    if (typeof branch !== 'string' || !isValidRef(branch))
      throw new SlipwayError('request.invalid', 'branch is not a valid branch name');
    if (body.token !== undefined && body.token !== null && (typeof body.token !== 'string' || !TOKEN.test(body.token)))
      throw new SlipwayError('request.invalid', 'token must be a GitHub token (printable, no spaces)');
    await store.apps.require(app);
    const previous = await store.githubLinks.get(app);
    const sameRepo = previous?.repo === body.repo.toLowerCase();
    const secret = sameRepo && previous ? previous.secret : randomBytes(24).toString('hex');
    const link = await store.githubLinks.put({
      app,
      repo: body.repo,
      branch,
      autoDeploy: body.auto_deploy === true,
      secret,
      token: typeof body.token === 'string' ? body.token : sameRepo ? (previous?.token ?? null) : null,
    });
    // The secret is shown when it is new, never again.
    return { ...linkJson(link), ...(sameRepo ? {} : { webhook_secret: secret }) };
  });

  api.get<AppParams>('/api/apps/:app/integrations/github', async (request) => linkJson(await requireLink(request)));

  api.delete<AppParams>('/api/apps/:app/integrations/github', async (request, reply) => {
    await requireLink(request);
    await store.githubLinks.remove(request.params.app);
    return reply.code(204).send();
  });

  const requireLink = async (request: FastifyRequest<AppParams>): Promise<GithubLink> => {
    await store.apps.require(request.params.app);
    const link = await store.githubLinks.get(request.params.app);
    if (!link) throw new SlipwayError('github.link_not_found', `${request.params.app} is not linked to GitHub`);
    return link;
  };

  // The webhook gets its own parser (in its own plugin scope) that hands over the raw stream: the
  // body is signed as it arrives, with a cap on bodies in flight, and parsed only once signed.
  const deployer = githubDeployer(ctx.intake);
  let inFlight = 0;
  api.register(async (hooks) => {
    hooks.addContentTypeParser('application/json', (_request, payload, done) => done(null, payload));
    hooks.post('/hooks/github', { config: { access: 'public' } }, async (request, reply) => {
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const signature = header('x-hub-signature-256') ?? '';
      const secrets = SIGNATURE_HEADER.test(signature) ? await store.githubLinks.secrets() : [];
      if (secrets.length === 0) throw unsigned();
      if (inFlight >= MAX_WEBHOOKS_IN_FLIGHT) {
        request.log.warn({ inFlight }, 'webhook refused: too many bodies in flight');
        reply.header('retry-after', '5');
        throw new SlipwayError('request.busy', 'too many webhook deliveries at once: try again in a few seconds');
      }
      inFlight++;
      let read: { body: Buffer; signedWith: string[] };
      try {
        read = await readSignedBody(request.body as Readable, secrets, signature, {
          maxBytes: MAX_WEBHOOK_BYTES,
          deadlineMs: WEBHOOK_BODY_DEADLINE_MS,
          tooLarge: () => new SlipwayError('request.too_large', 'webhook body over 25 MiB'),
        });
      } finally {
        inFlight--;
      }
      if (read.signedWith.length === 0) throw unsigned();
      let payload: unknown;
      try {
        payload = JSON.parse(read.body.toString('utf8'));
      } catch {
        throw new SlipwayError('request.invalid', 'the webhook body must be JSON (content type application/json)');
      }
      const repo = payloadRepo(payload);
      const links = repo ? await store.githubLinks.findByRepo(repo) : [];
      const signed = links.filter((link) => read.signedWith.includes(link.secret));
      if (signed.length === 0) throw unsigned();
      const event = header('x-github-event') ?? '';
      const ignored = (reason: string) => reply.code(202).send({ status: 'ignored', reason });
      if (event === 'ping') return ignored('ping: the webhook works');
      if (event !== 'push') return ignored(`${event || 'unnamed'} events are not handled`);
      const push = parsePush(payload);
      if (!push) throw new SlipwayError('request.invalid', 'not a push payload');
      const delivery = header('x-github-delivery');
      if (delivery && !(await store.githubLinks.recordDelivery(delivery))) {
        return ignored(`delivery ${delivery} was already handled`);
      }
      const apps: string[] = [];
      const reasons: Record<string, string> = {};
      const baseUrl = `${request.protocol}://${request.host}`;
      for (const link of signed) {
        const reason = ignoreReason(link, push);
        if (reason) reasons[link.app] = reason;
        else {
          deployer.start(link, push, baseUrl);
          apps.push(link.app);
        }
      }
      if (apps.length === 0) return ignored(Object.values(reasons).join('; '));
      return reply.code(202).send({ status: 'deploying', commit: push.sha, apps, ignored: reasons });
    });
  });
}

const unsigned = () =>
  new SlipwayError('auth.invalid_signature', 'missing or invalid X-Hub-Signature-256 for this repository');

function linkJson(link: GithubLink) {
  return {
    app: link.app,
    repo: link.repo,
    branch: link.branch,
    auto_deploy: link.autoDeploy,
    has_token: link.token !== null,
    webhook_path: '/hooks/github',
    created_at: link.createdAt,
  };
}
