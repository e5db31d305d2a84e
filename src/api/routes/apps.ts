// /api/apps: create, list, show, destroy.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DEFAULT_CONTAINER_SIZE, parseContainerSize } from '../../core/container-size.ts';
import { type App, type Deployment, releaseName } from '../../core/types.ts';
import { removeRepo } from '../../source/git-repo.ts';
import type { ApiContext } from '../api-context.ts';
import { containerJson } from '../serialize.ts';
import { MAX_BOOT_TIMEOUT_MS, MAX_HOOK_TIMEOUT_MS, parseBody, timeoutSetting } from '../validate.ts';

const createBody = z.object({ name: z.string() });
const updateBody = z
  .object({
    hook_timeout: z.union([z.string(), z.number().positive(), z.null()]).optional(),
    boot_timeout: z.union([z.string(), z.number().positive(), z.null()]).optional(),
    size: z.string().optional(),
    /** null: back to the default hook size (M). */
    hook_size: z.union([z.string(), z.null()]).optional(),
    restore_on_hook_failure: z.boolean().optional(),
    force_https: z.boolean().optional(),
    hsts: z.boolean().optional(),
  })
  .refine(
    (b) => Object.values(b).some((v) => v !== undefined),
    'give hook_timeout, boot_timeout, size, hook_size, restore_on_hook_failure, force_https or hsts',
  );

export function appRoutes(
  api: FastifyInstance,
  { pipeline, store, webUrl, reposDir, addons, backups, certs }: ApiContext,
): void {
  const appJson = async (name: string) => {
    const app = await store.apps.require(name);
    const [last] = await store.deployments.list(name, 1);
    return appSummary(app, last);
  };
  const appSummary = (app: App, last: Pick<Deployment, 'id' | 'status' | 'createdAt'> | undefined) => {
    return {
      name: app.name,
      created_at: app.createdAt,
      current_release: app.currentRelease === null ? null : releaseName(app.currentRelease),
      hook_timeout_ms: app.hookTimeoutMs,
      boot_timeout_ms: app.bootTimeoutMs,
      size: app.containerSize,
      hook_size: app.hookSize ?? DEFAULT_CONTAINER_SIZE,
      restore_on_hook_failure: app.restoreOnHookFailure,
      web_url: webUrl(app.name),
      last_deployment: last ? { id: last.id, status: last.status, created_at: last.createdAt } : null,
      force_https: app.forceHttps,
      hsts: app.hsts,
    };
  };

  api.post('/api/apps', async (request, reply) => {
    const { name } = parseBody(createBody, request.body);
    const app = await pipeline.createApp(name);
    await certs.refresh(); // ACME certificates, when on by default
    reply.code(201);
    return appJson(app.name);
  });

  api.get('/api/apps', async () => {
    // Two queries whatever the number of apps.
    const [apps, latest] = await Promise.all([store.apps.list(), store.deployments.latestOfEachApp()]);
    return apps.map((a) => appSummary(a, latest.get(a.name)));
  });

  api.get<{ Params: { app: string } }>('/api/apps/:app', async (request) => {
    const info = await appJson(request.params.app);
    const containers = await store.containers.list(request.params.app);
    const formation = await store.formation.get(request.params.app);
    const domains = await store.domains.list(request.params.app);
    const nodes = pipeline.nodes(request.params.app);
    return { ...info, formation, domains, containers: containers.map((c) => containerJson(c, nodes)) };
  });

  api.patch<{ Params: { app: string } }>('/api/apps/:app', async (request) => {
    const body = parseBody(updateBody, request.body);
    await pipeline.updateApp(request.params.app, {
      hookTimeoutMs: timeoutSetting('hook_timeout', body.hook_timeout, MAX_HOOK_TIMEOUT_MS),
      bootTimeoutMs: timeoutSetting('boot_timeout', body.boot_timeout, MAX_BOOT_TIMEOUT_MS),
      containerSize: body.size === undefined ? undefined : parseContainerSize(body.size),
      hookSize: body.hook_size == null ? body.hook_size : parseContainerSize(body.hook_size),
      restoreOnHookFailure: body.restore_on_hook_failure,
      forceHttps: body.force_https,
      hsts: body.hsts,
    });
    return appJson(request.params.app);
  });

  api.get<{ Params: { app: string } }>('/api/apps/:app/containers', async (request) => {
    await store.apps.require(request.params.app);
    const nodes = pipeline.nodes(request.params.app);
    return (await store.containers.list(request.params.app)).map((c) => containerJson(c, nodes));
  });

  api.delete<{ Params: { app: string } }>('/api/apps/:app', async (request, reply) => {
    await store.apps.require(request.params.app);
    // Its add-ons' data first: a failure leaves the app, and the command can be run again.
    await addons.destroyAll(request.params.app);
    await pipeline.destroyApp(request.params.app);
    await backups.removeAll(request.params.app);
    // Its git repository goes with it, before the answer (a new app of the same name starts empty anyway).
    await removeRepo(reposDir, request.params.app);
    certs.forgetApp(request.params.app);
    await certs.sync(); // its certificates are no longer served
    reply.code(204);
  });
}
