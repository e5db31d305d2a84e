// A real ACME CA on loopback for tests: Debian's `pebble`, with
// `pebble-challtestsrv` as its DNS server (every name resolves to 127.0.0.1
// unless a test says otherwise) and its http-01 port pointed at the router
// under test. Pebble's HTTPS directory gets a certificate from a test CA.

import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { type ProcessHandle, spawnProcess } from '../../src/exec/index.ts';
import { deadPort } from './local-http.ts';
import { issue, makeRootCa, removeCa } from './test-certs.ts';
import { waitFor } from './wait.ts';

export interface Pebble {
  /** The ACME directory URL. */
  readonly directoryUrl: string;
  /** A file with the CA certificate of pebble's own HTTPS (for NODE_EXTRA_CA_CERTS). */
  readonly tlsCaFile: string;
  /** Pebble's issuing root (PEM), fetched from its management API. */
  root(): Promise<string>;
  /** Makes `host` resolve to `address` (A record) in pebble's DNS. */
  resolve(host: string, address: string): Promise<void>;
  stop(): Promise<void>;
}

const ENV = { PATH: '/usr/bin:/bin' };

function plainPost(port: number, pathname: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const text = JSON.stringify(body);
      socket.end(
        `POST ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('end', () =>
      answer.startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(answer.split('\r\n')[0])),
    );
    socket.on('error', reject);
  });
}

const ready = (port: number) =>
  waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    `port ${port} listening`,
    15_000,
    50,
  );

/**
 * Starts pebble and its DNS; `httpPort` is where it sends http-01 validations (the router's HTTP
 * port), `tlsPort` where it sends tls-alpn-01 ones (the router's HTTPS port; default: a dead port).
 */
export async function startPebble(options: {
  httpPort: number;
  tlsPort?: number;
  validitySeconds?: number;
}): Promise<Pebble> {
  const ca = await makeRootCa('Pebble HTTPS Test CA');
  const tls = await issue(ca, { names: ['localhost'] });
  const [acmePort, managementPort, dnsPort, dnsManagementPort, tlsPort] = await Promise.all(
    Array.from({ length: 5 }, () => deadPort()),
  );
  const config = path.join(ca.dir, 'pebble.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: tls.certFile,
        privateKey: tls.keyFile,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort ?? tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  const output: string[] = [];
  const onLine = (_stream: string, line: string) => output.push(line);
  const dns: ProcessHandle = spawnProcess(
    [
      'pebble-challtestsrv',
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${dnsManagementPort}`,
      '-defaultIPv6',
      '',
    ],
    { env: ENV, onLine },
  );
  const pebble: ProcessHandle = spawnProcess(['pebble', '-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], {
    env: {
      ...ENV,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_VA_ALWAYS_VALID: '0',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
    },
    onLine,
  });
  const stop = async () => {
    await Promise.all([pebble.stop(2_000), dns.stop(2_000)]);
    removeCa(ca);
  };
  try {
    await Promise.all([ready(acmePort), ready(managementPort), ready(dnsManagementPort)]);
  } catch (err) {
    await stop();
    throw new Error(`pebble did not start: ${(err as Error).message}\n${output.join('\n')}`);
  }
  return {
    directoryUrl: `https://localhost:${acmePort}/dir`,
    tlsCaFile: ca.certFile,
    root: () =>
      new Promise((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port: managementPort, path: '/roots/0', ca: ca.cert, servername: 'localhost' },
            (res) => {
              let body = '';
              res.on('data', (chunk) => {
                body += chunk;
              });
              res.on('end', () => resolve(body));
            },
          )
          .on('error', reject);
      }),
    resolve: (host, address) => plainPost(dnsManagementPort, '/add-a', { host, addresses: [address] }),
    stop,
  };
}
