// The small HTML pages the router answers with when it cannot proxy: unknown
// hostname, app without web process, unreachable or slow backend. Static
// pages are rendered once; they go out on a ServerResponse or, for upgrade
// requests, straight onto the raw socket.

import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

export interface ErrorPages {
  readonly badRequest: Buffer;
  readonly notFound: Buffer;
  readonly badGateway: Buffer;
  readonly gatewayTimeout: Buffer;
  noBackend(app: string): Buffer;
}

export function renderErrorPages(domain: string): ErrorPages {
  return {
    badRequest: page(400, 'The request names its host more than once, or in a form the router does not take.', ''),
    notFound: page(
      404,
      'No app is configured for this hostname.',
      `Apps answer on <code>&lt;app&gt;.${escapeHtml(domain)}</code> or on the custom domains added to them.`,
    ),
    badGateway: page(502, 'The app did not answer: its web process refused or dropped the connection.', ''),
    gatewayTimeout: page(504, 'The app did not answer in time.', ''),
    noBackend: (app) =>
      page(503, `${escapeHtml(app)} has no running web process.`, 'It may be deploying, scaled to zero, or crashed.'),
  };
}

export function sendErrorPage(res: ServerResponse, status: number, body: Buffer, requestId: string): void {
  res.writeHead(status, [
    'Content-Type',
    'text/html; charset=utf-8',
    'Content-Length',
    String(body.length),
    'Cache-Control',
    'no-store',
    'X-Request-Id',
    requestId,
  ]);
  res.end(body);
}

/** For upgrade requests, where no ServerResponse exists. Closes the socket. */
export function writeRawErrorPage(socket: Socket, status: number, body: Buffer, requestId: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: text/html; charset=utf-8\r\n' +
      `Content-Length: ${body.length}\r\n` +
      'Cache-Control: no-store\r\n' +
      'Connection: close\r\n' +
      `X-Request-Id: ${requestId}\r\n\r\n`,
  );
  socket.end(body);
}

function page(status: number, message: string, hint: string): Buffer {
  const title = `${status} ${STATUS_CODES[status]}`;
  return Buffer.from(
    '<!doctype html>\n<html><head><meta charset="utf-8">' +
      `<title>${title}</title></head>\n<body><h1>${title}</h1>\n<p>${message}</p>\n` +
      (hint === '' ? '' : `<p>${hint}</p>\n`) +
      '<hr><p>slipway router</p></body></html>\n',
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
