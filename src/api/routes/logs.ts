// GET /api/apps/:app/logs: the app's latest log lines (text, or JSON with
// Accept: application/json); with follow=1 or Accept: text/event-stream, an
// SSE stream of the history then live lines, each event's data a LogLineJson.

import type { FastifyInstance } from 'fastify';
import type { LogLineJson } from '../../core/api-json.ts';
import { SlipwayError } from '../../core/errors.ts';
import { formatEntry, type LogEntry } from '../../logs/app-log-reader.ts';
import type { ApiContext } from '../api-context.ts';
import { openSse } from '../sse.ts';

type LogsRequest = {
  Params: { app: string };
  Querystring: { lines?: string; type?: string; follow?: string };
};

const DEFAULT_LINES = 100;
const MAX_LINES = 10_000;
const SOURCE = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
/** A follower reading slower than its app writes skips lines past this much unsent output. */
const MAX_UNSENT_BYTES = 1024 * 1024;

export function logRoutes(api: FastifyInstance, ctx: ApiContext): void {
  api.get<LogsRequest>('/api/apps/:app/logs', async (request, reply) => {
    const { app } = request.params;
    await ctx.store.apps.require(app);
    const { lines: linesParam, type, follow: followParam } = request.query;
    const lines = linesParam === undefined ? DEFAULT_LINES : Number(linesParam);
    if (!Number.isInteger(lines) || lines < 0 || lines > MAX_LINES) {
      throw new SlipwayError('request.invalid', `lines must be a whole number from 0 to ${MAX_LINES}`);
    }
    if (type !== undefined && !SOURCE.test(type)) {
      throw new SlipwayError('request.invalid', 'type must be a process type (web), a container (web-1) or router');
    }
    const accept = request.headers.accept ?? '';
    const follow = followParam === '1' || followParam === 'true' || accept.includes('text/event-stream');

    if (!follow) {
      const entries = await ctx.appLogs.read(app, { lines, type });
      if (accept.includes('application/json')) return entries.map(logLineJson);
      reply.type('text/plain; charset=utf-8');
      return entries.map(formatEntry).join('');
    }

    const sse = openSse(reply);
    let skipped = 0;
    const send = (entry: LogEntry) => {
      if (reply.raw.writableLength > MAX_UNSENT_BYTES) {
        skipped++;
        return;
      }
      if (skipped > 0) {
        const note = `${skipped} log lines skipped: this client reads slower than the app writes`;
        sse.send(JSON.stringify(logLineJson({ time: new Date().toISOString(), source: 'slipway', line: note })));
        skipped = 0;
      }
      sse.send(JSON.stringify(logLineJson(entry)));
    };
    try {
      // The stream ends when the app is destroyed, or when the client goes away.
      const stop = await ctx.appLogs.follow(app, { lines, type }, send, () => sse.end());
      sse.closed.then(stop);
    } catch (err) {
      request.log.error({ err, app }, 'cannot follow the app log');
      sse.end();
    }
  });
}

function logLineJson(entry: LogEntry): LogLineJson {
  return { time: entry.time, source: entry.source, line: entry.line };
}
