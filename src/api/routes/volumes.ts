// /api/apps/:app/volumes: persistent directories mounted in every container
// of the app (docs/volumes.md). Adding or removing one restarts a running app
// (the answer's deployment, no hook); removing one deletes its data.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseVolumeSize, type Volume } from '../../core/volumes.ts';
import type { VolumeChange } from '../../pipeline/pipeline.ts';
import type { ApiContext } from '../api-context.ts';
import { deploymentJson } from '../serialize.ts';
import { parseBody } from '../validate.ts';

type AppParams = { Params: { app: string } };

const addBody = z.object({ path: z.string(), size: z.string().nullable().optional() });
const removeBody = z.object({ path: z.string() });

function volumeJson(volume: Volume) {
  return { id: volume.id, path: volume.path, size_bytes: volume.sizeBytes, created_at: volume.createdAt };
}

function changeJson(change: VolumeChange) {
  return {
    volume: volumeJson(change.volume),
    deployment: change.deployment ? deploymentJson(change.deployment) : null,
  };
}

export function volumeRoutes(api: FastifyInstance, { pipeline }: ApiContext): void {
  api.get<AppParams>('/api/apps/:app/volumes', async (request) =>
    (await pipeline.volumes(request.params.app)).map(volumeJson),
  );

  api.post<AppParams>('/api/apps/:app/volumes', async (request, reply) => {
    const body = parseBody(addBody, request.body);
    const size = body.size == null ? undefined : parseVolumeSize(body.size);
    const change = await pipeline.addVolume(request.params.app, body.path, size, request.author);
    reply.code(201);
    return changeJson(change);
  });

  // The path goes in the body: it has slashes of its own.
  api.post<AppParams>('/api/apps/:app/volumes/remove', async (request) => {
    const body = parseBody(removeBody, request.body);
    return changeJson(await pipeline.removeVolume(request.params.app, body.path, request.author));
  });
}
