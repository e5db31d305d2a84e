// Server-sent events on a hijacked fastify reply.

import type { FastifyReply } from 'fastify';

export interface SseStream {
  send(data: string, event?: string): void;
  end(): void;
  readonly closed: Promise<void>;
}

export function openSse(reply: FastifyReply): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': connected\n\n');
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  closed.then(() => clearInterval(heartbeat));
  return {
    send(data, event) {
      if (res.writableEnded) return;
      const lines = data
        .split('\n')
        .map((l) => `data: ${l}`)
        .join('\n');
      res.write(event ? `event: ${event}\n${lines}\n\n` : `${lines}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
    },
    closed,
  };
}
