// POST /api/apps/:app/run: a one-off container of the current release. By
// default the response is an SSE stream of its output (`event: output`, data
// `{stream, line}`) ending with `event: exit` (`{code, signal}`); the run is
// stopped, with its whole process tree, when the client goes away. With
// `detached: true` the answer is 202 `{container}` at once and the output goes
// to the app log.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RunExitJson, RunOutputJson } from '../../core/api-json.ts';
import type { ApiContext } from '../api-context.ts';
import { startedJson } from '../serialize.ts';
import { openSse } from '../sse.ts';
import { parseBody, parseVersion, releaseVersionField } from '../validate.ts';
import { runAttachRoutes } from './run-attach.ts';

const runBody = z.object({
  command: z.string(),
  env: z.record(z.string(), z.string()).optional(),
  detached: z.boolean().optional(),
  release: releaseVersionField.optional(),
});

export function runRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { pipeline } = ctx;
  runAttachRoutes(api, ctx); // the interactive twin: GET /api/apps/:app/run/attach
  api.post<{ Params: { app: string } }>('/api/apps/:app/run', async (request, reply) => {
    const body = parseBody(runBody, request.body);
    const release = body.release === undefined ? undefined : parseVersion(body.release);
    if (body.detached) {
      const run = await pipeline.runOneOff(request.params.app, { command: body.command, env: body.env, release });
      reply.code(202);
      return startedJson(run);
    }

    // Lines printed before the stream is open wait here, in order.
    const early: RunOutputJson[] = [];
    let send = (output: RunOutputJson): void => {
      early.push(output);
    };
    const run = await pipeline.runOneOff(request.params.app, {
      command: body.command,
      env: body.env,
      release,
      onLine: (stream, line) => send({ stream, line }),
    });
    const sse = openSse(reply);
    sse.send(JSON.stringify(startedJson(run)), 'started');
    send = (output) => sse.send(JSON.stringify(output), 'output');
    for (const output of early) send(output);
    let finished = false;
    const clientLeft = () => {
      if (!finished) void run.stop(); // no orphan
    };
    sse.closed.then(clientLeft);
    if (request.raw.socket.destroyed) clientLeft(); // it left while the container was starting
    const exit = await run.exited;
    finished = true;
    const json: RunExitJson = { code: exit.code, signal: exit.signal };
    sse.send(JSON.stringify(json), 'exit');
    sse.end();
  });
}
