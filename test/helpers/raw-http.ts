// HTTP/1.1 written byte for byte on a socket: request targets and headers
// exactly as an attacker would spell them (no client library normalises
// them), from a chosen loopback source address (each 127.x.y.z is a client
// of its own to the server's per-client budgets).

import net from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** What arrived of the body within the wait (responses are not read to the end). */
  readonly body: string;
}

export function rawRequest(options: {
  port: number;
  /** Everything up to the blank line, e.g. `GET /x HTTP/1.1\r\nHost: a` (Connection: close is added). */
  head: string;
  body?: string;
  localAddress?: string;
  timeoutMs?: number;
}): Promise<RawResponse> {
  const { port, head, body = '', localAddress, timeoutMs = 5000 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let data = '';
    const finish = () => {
      socket.destroy();
      clearTimeout(timer);
      const end = data.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
      if (!status) return reject(new Error(`no HTTP response to ${head.split('\r\n')[0]}: ${JSON.stringify(data)}`));
      const headers: Record<string, string> = {};
      for (const line of data
        .slice(0, end < 0 ? undefined : end)
        .split('\r\n')
        .slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, body: end < 0 ? '' : data.slice(end + 4) });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(`${head}\r\nConnection: close\r\n\r\n${body}`));
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (complete(data, head.startsWith('HEAD '))) finish();
    });
    socket.on('end', finish);
    socket.on('error', (err) => {
      if (data) finish();
      else {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

/**
 * Whether a whole response arrived: a connection may stay open after it (an
 * upgrade answered 101, or refused on a socket the server leaves to its handler).
 */
function complete(data: string, isHead: boolean): boolean {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = data.slice(0, end);
  if (isHead || /^HTTP\/1\.1 (101|204|304)/.test(head)) return true;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
  if (length !== undefined) return data.length - end - 4 >= Number(length);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) return data.endsWith('0\r\n\r\n');
  return false;
}
