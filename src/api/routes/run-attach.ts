// GET /api/apps/:app/run/attach (WebSocket): an interactive one-off run under
// a pseudo-terminal. The client's first text frame is `{type: 'start',
// command, env?, cols, rows}`; then binary frames carry its keystrokes one way
// and the terminal's output the other, and `{type: 'resize', cols, rows}`
// resizes the terminal; the server ends with `{type: 'exit',
// code, signal}` and closes. When the socket closes first, the run is stopped
// with its whole process tree. Auth is the API's Bearer token, as everywhere.

import type { Duplex } from 'node:stream';
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { RunAttachServerMessage } from '../../core/api-json.ts';
import { isSlipwayError, SlipwayError } from '../../core/errors.ts';
import type { OneOffRun } from '../../pipeline/run-one-off.ts';
import type { ApiContext } from '../api-context.ts';
import { startedJson } from '../serialize.ts';
import { parseBody, parseVersion, releaseVersionField } from '../validate.ts';

const startMessage = z.object({
  type: z.literal('start'),
  command: z.string(),
  env: z.record(z.string(), z.string()).optional(),
  release: releaseVersionField.optional(),
  cols: z.number(),
  rows: z.number(),
});

const resizeMessage = z.object({ type: z.literal('resize'), cols: z.number(), rows: z.number() });

/** Keystrokes the client may send before the container has started. */
const MAX_EARLY_INPUT_BYTES = 64 * 1024;

export function runAttachRoutes(api: FastifyInstance, ctx: ApiContext): void {
  // Node leaves upgrade sockets to their handler, half-open when the peer
  // ends them, and outside the server's connection tracking: a refused
  // upgrade (401) would keep one open and `close()` would wait for it forever.
  const upgrades = new Set<Duplex>();
  api.server.on('upgrade', (_request: unknown, socket: Duplex) => {
    upgrades.add(socket);
    socket.once('end', () => socket.destroy());
    socket.once('close', () => upgrades.delete(socket));
  });
  api.addHook('preClose', async () => {
    for (const socket of upgrades) socket.destroy();
  });
  api.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });
  api.register(async (scope) => {
    scope.get<{ Params: { app: string } }>('/api/apps/:app/run/attach', { websocket: true }, (socket, request) =>
      attach(ctx, request.params.app, socket),
    );
  });
}

function attach(ctx: ApiContext, app: string, socket: WebSocket): void {
  let run: OneOffRun | undefined;
  let starting = false;
  let finished = false;
  let socketClosed = false;
  const send = (message: RunAttachServerMessage) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const fail = (err: unknown) => {
    const error = isSlipwayError(err)
      ? { code: err.code, message: err.message }
      : { code: 'internal', message: 'internal error (see the server log)' };
    if (!isSlipwayError(err)) ctx.logger.error({ err, app }, 'interactive run failed');
    send({ type: 'error', error });
    socket.close(1000);
  };

  // Input (keystrokes and resizes) is applied in the order it came, after the start.
  let input: Promise<unknown> = Promise.resolve();
  let earlyBytes = 0;
  const then = (step: () => unknown) => {
    input = input.then(step).catch((err: unknown) => ctx.logger.debug({ err, app }, 'terminal input failed'));
  };

  const start = async (message: unknown) => {
    const body = parseBody(startMessage, message);
    run = await ctx.pipeline.runOneOff(app, {
      command: body.command,
      env: body.env,
      release: body.release === undefined ? undefined : parseVersion(body.release),
      tty: { cols: body.cols, rows: body.rows },
      onData: (chunk) => {
        if (socket.readyState === socket.OPEN) socket.send(chunk, { binary: true });
      },
    });
    if (socketClosed) {
      await run.stop(); // the client left while the container was starting
      return;
    }
    send({ type: 'started', ...startedJson(run) });
    void run.exited.then((exit) => {
      finished = true;
      send({ type: 'exit', code: exit.code, signal: exit.signal });
      socket.close(1000);
    });
  };

  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (!run) {
        earlyBytes += data.length;
        if (earlyBytes > MAX_EARLY_INPUT_BYTES) return; // typed ahead of the start too much
      }
      return then(() => run?.stdin?.write(data));
    }
    let message: { type?: unknown };
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      return fail(new SlipwayError('request.invalid', 'text frames must be JSON control messages'));
    }
    if (message.type === 'start' && !starting) {
      starting = true;
      const started = start(message);
      input = started.catch(fail);
    } else if (message.type === 'resize') {
      const resize = resizeMessage.safeParse(message);
      if (!resize.success) return fail(new SlipwayError('request.invalid', 'a resize needs numeric cols and rows'));
      then(() => run?.resize(resize.data));
    }
  });
  socket.on('close', () => {
    socketClosed = true;
    if (run && !finished) void run.stop(); // the client left: no orphan
  });
}
