// Not part of `npm run bench`: an experiment that bounds what the built-in
// router could gain from a leaner upstream side. It runs, under the same
// autocannon load, the built-in router and a bare stand-in that keeps the
// router's client side (node:http) but talks to the backend over one raw
// socket per client connection, with just enough parsing for this backend's
// Content-Length answers. The stand-in is not a router (no chunked bodies, no
// errors, no pooling, no route table): it measures the cost of undici's pool
// and dispatch path, the part a hand-written upstream client would replace.
//   node --import tsx bench/upstream-ceiling.ts

import http from 'node:http';
import net from 'node:net';
import { startBuiltinRouter } from '../src/router/builtin/index.ts';
import { autocannon, fmt, startBackendProcess } from './lib.ts';

const HEAD_END = Buffer.from('\r\n\r\n');
const ROUNDS = 3;

interface Relayed extends net.Socket {
  upstream?: net.Socket;
  waiting?: http.ServerResponse[];
  unparsed?: Buffer;
}

function bareProxy(backendPort: number): http.Server {
  return http.createServer((req, res) => {
    const client = req.socket as Relayed;
    if (client.upstream === undefined) openUpstream(client, backendPort);
    client.waiting?.push(res);
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    client.upstream?.write(`${head}X-Forwarded-For: 127.0.0.1\r\nX-Request-Id: bench\r\n\r\n`, 'latin1');
  });
}

function openUpstream(client: Relayed, backendPort: number): void {
  const upstream = net.connect(backendPort, '127.0.0.1');
  upstream.setNoDelay(true);
  client.upstream = upstream;
  client.waiting = [];
  client.unparsed = Buffer.alloc(0);
  client.on('close', () => upstream.destroy());
  upstream.on('data', (chunk: Buffer) => {
    let buffered = client.unparsed?.length ? Buffer.concat([client.unparsed, chunk]) : chunk;
    for (let end = buffered.indexOf(HEAD_END); end !== -1; end = buffered.indexOf(HEAD_END)) {
      const lines = buffered.toString('latin1', 0, end).split('\r\n');
      const headers: string[] = [];
      let length = 0;
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon);
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'content-length') length = Number(value);
        headers.push(name, value);
      }
      if (buffered.length < end + 4 + length) break;
      const res = client.waiting?.shift();
      res?.writeHead(Number(lines[0]?.slice(9, 12)), [...headers, 'X-Request-Id', 'bench']);
      res?.end(buffered.subarray(end + 4, end + 4 + length));
      buffered = buffered.subarray(end + 4 + length);
    }
    client.unparsed = buffered;
  });
}

const backend = await startBackendProcess();
const bare = bareProxy(backend.port);
await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
const router = await startBuiltinRouter({ host: '127.0.0.1', port: 0, domain: 'localhost' });
router.setRoute('app', {
  hostnames: ['app.localhost'],
  backends: [{ id: 'web-1', host: '127.0.0.1', port: backend.port }],
});
const targets = [
  ['built-in router', router.address.port],
  ['bare upstream', (bare.address() as net.AddressInfo).port],
] as const;
console.log(`upstream ceiling: 50 keep-alive connections, 5 s each, ${ROUNDS} rounds interleaved`);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, port] of targets) {
    const f = await autocannon({ port, host: 'app.localhost', seconds: 5, connections: 50 });
    console.log(`  ${name.padEnd(16)} ${fmt(f.rps, 0).padStart(6)} req/s   p99 ${fmt(f.p99)} ms   errors ${f.errors}`);
  }
}
bare.close();
bare.closeAllConnections();
await router.close();
await backend.handle.stop(1000);
