// A router worker process (entry point; DESIGN: docs/router.md "Worker
// processes"). It loads only the proxy, then waits for the server process to
// send the whole route table with the listening socket, and from then on
// accepts on that socket itself. Route changes, drain requests and close come
// over the IPC channel; access entries go back in batches. When the channel
// closes (the server exited, even by SIGKILL) the worker exits too.

import type { Server } from 'node:net';
import type { LogFn } from 'pino';
import type { AccessEntry, RouterLog } from '../proxy-context.ts';
import { createProxyServer, listen, type ProxyServer } from '../proxy-server.ts';
import { ACCESS_BATCH, ACCESS_FLUSH_MS, type FromWorker, type LogLevel, type ToWorker } from './worker-protocol.ts';

if (process.send === undefined) {
  process.stderr.write('the router worker is started by `slipway server`, not on its own\n');
  process.exit(2);
}

const send = (message: FromWorker, done?: () => void): void => {
  if (!process.connected) return;
  process.send?.(message, undefined, undefined, done);
};

let proxy: ProxyServer | undefined;
let pending: AccessEntry[] = [];
let flushTimer: NodeJS.Timeout | undefined;

function flushAccess(done?: () => void): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) {
    done?.();
    return;
  }
  const entries = pending;
  pending = [];
  send({ t: 'access', entries }, done);
}

function onAccess(entry: AccessEntry): void {
  pending.push(entry);
  if (pending.length >= ACCESS_BATCH) flushAccess();
  else flushTimer ??= setTimeout(flushAccess, ACCESS_FLUSH_MS);
}

function relayLog(level: LogLevel, enabled: boolean): LogFn {
  return (first: unknown, second?: unknown) => {
    if (!enabled) return;
    if (typeof first === 'string') send({ t: 'log', level, fields: {}, msg: first });
    else send({ t: 'log', level, fields: plainFields(first), msg: typeof second === 'string' ? second : '' });
  };
}

/** Log fields as JSON can carry them: errors become their type, message, code and stack. */
function plainFields(fields: unknown): Record<string, unknown> {
  if (fields === null || typeof fields !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] =
      value instanceof Error
        ? { type: value.name, message: value.message, code: (value as NodeJS.ErrnoException).code, stack: value.stack }
        : value;
  }
  return out;
}

async function start(message: Extract<ToWorker, { t: 'init' }>, handle: Server): Promise<void> {
  const { settings } = message;
  const logger: RouterLog = {
    debug: relayLog('debug', settings.debug),
    warn: relayLog('warn', true),
    error: relayLog('error', true),
  };
  const server = createProxyServer({
    ...settings,
    logger,
    onAccess: settings.access ? onAccess : undefined,
    tls: settings.tlsPort !== undefined,
  });
  for (const [app, route] of message.routes) server.setRoute(app, route);
  server.setForwardedPort(settings.port, settings.tlsPort);
  proxy = server;
  await listen(server.server, { handle });
  send({ t: 'listening', gen: message.gen });
}

function exitWhenClosed(): void {
  const exit = () => process.exit(0);
  const timer = setTimeout(exit, 2_000);
  timer.unref();
  flushAccess(() => {
    void proxy?.close().then(exit);
    if (proxy === undefined) exit();
  });
}

process.on('message', (message: ToWorker, handle: unknown) => {
  switch (message.t) {
    case 'init':
      start(message, handle as Server).catch((err: Error) => {
        process.stderr.write(`router worker could not start: ${err.message}\n`);
        process.exit(1);
      });
      return;
    case 'set':
      proxy?.setRoute(message.app, message.route);
      send({ t: 'ack', gen: message.gen });
      return;
    case 'remove':
      proxy?.removeRoute(message.app);
      send({ t: 'ack', gen: message.gen });
      return;
    case 'tls':
      proxy?.setCertificates(message.certificates);
      if (proxy?.tlsServer)
        listen(proxy.tlsServer, { handle: handle as Server }).then(
          () => send({ t: 'ack', gen: message.gen }),
          (err: Error) => {
            process.stderr.write(`router worker could not serve HTTPS: ${err.message}\n`);
            process.exit(1);
          },
        );
      return;
    case 'certs':
      proxy?.setCertificates(message.certificates);
      send({ t: 'ack', gen: message.gen });
      return;
    case 'challenge':
      proxy?.setChallenge(message.token, message.keyAuthorization);
      send({ t: 'ack', gen: message.gen });
      return;
    case 'alpn':
      proxy?.setAlpnChallenge(message.hostname, message.certificate);
      send({ t: 'ack', gen: message.gen });
      return;
    case 'drain': {
      const done = () => send({ t: 'drained', id: message.id });
      if (proxy === undefined) done();
      else void proxy.drain(message.backendIds, message.timeoutMs).then(done);
      return;
    }
    case 'close':
      exitWhenClosed();
      return;
  }
});

// The server process is gone (or closed the channel): never outlive it.
process.on('disconnect', () => process.exit(0));
send({ t: 'loaded' });
