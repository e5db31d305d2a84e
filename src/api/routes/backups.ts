// /api/apps/:app/backups: backups of the app's databases (docs/addons.md,
// "Backups"): list, capture, restore.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Backup } from '../../addons/addon-backups.ts';
import type { ApiContext } from '../api-context.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };

const captureBody = z.object({ addon: z.string().nullable().optional() }).optional();

const backupJson = (b: Backup) => ({
  id: b.id,
  addon: b.addon,
  automatic: b.automatic,
  bytes: b.bytes,
  created_at: b.createdAt,
});

export function backupRoutes(api: FastifyInstance, { backups }: ApiContext): void {
  api.get<AppParams>('/api/apps/:app/backups', async (request) =>
    (await backups.list(request.params.app)).map(backupJson),
  );

  api.post<AppParams>('/api/apps/:app/backups', async (request, reply) => {
    const body = parseBody(captureBody, request.body ?? undefined);
    const { backup, ms } = await backups.capture(request.params.app, body?.addon ?? null);
    reply.code(201);
    return { ...backupJson(backup), ms };
  });

  api.post<{ Params: { app: string; id: string } }>('/api/apps/:app/backups/:id/restore', async (request) => {
    const { backup, ms } = await backups.restore(request.params.app, request.params.id);
    return { ...backupJson(backup), ms };
  });
}
