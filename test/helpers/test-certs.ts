// Certificates for tests, made by openssl in a temp folder: a private root CA,
// intermediates, leaves for given names with any validity window (expired and
// not-yet-valid ones included: `openssl ca` takes explicit dates).

import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { runChecked } from '../../src/exec/index.ts';
import { fixtureCopy, type Slipway } from './slipway.ts';

const ENV = { PATH: '/usr/bin:/bin' };

export interface TestCa {
  readonly dir: string;
  /** PEM of this CA's certificate. */
  readonly cert: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

const openssl = (args: string[], cwd: string) => runChecked(['openssl', ...args], { env: ENV, cwd });

/** YYYYMMDDHHMMSSZ, what `openssl ca` takes, `days` from now. */
export function opensslDate(days: number): string {
  return `${new Date(Date.now() + days * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/** A self-signed root CA in a new temp folder (the test removes it with `removeCa`). */
export async function makeRootCa(name = 'Slipway Test Root'): Promise<TestCa> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-ca-'));
  const keyFile = path.join(dir, 'root.key');
  const certFile = path.join(dir, 'root.pem');
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], dir);
  await openssl(
    ['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '3650', '-subj', `/CN=${name}`, '-sha256'],
    dir,
  );
  return { dir, cert: fs.readFileSync(certFile, 'utf8'), certFile, keyFile };
}

export function removeCa(ca: TestCa): void {
  fs.rmSync(ca.dir, { recursive: true, force: true });
}

let serial = 0;

/** A certificate signed by `ca`: a leaf for `names` (SANs), or with `isCa` an intermediate CA. */
export async function issue(
  ca: TestCa,
  options: { names: readonly string[]; notBeforeDays?: number; notAfterDays?: number; isCa?: boolean },
): Promise<Issued & TestCa> {
  const dir = ca.dir;
  const id = `c${process.pid}-${++serial}`;
  const keyFile = path.join(dir, `${id}.key`);
  const csr = path.join(dir, `${id}.csr`);
  const certFile = path.join(dir, `${id}.pem`);
  const ext = path.join(dir, `${id}.ext`);
  const conf = path.join(dir, `${id}.cnf`);
  const db = path.join(dir, `${id}-index.txt`);
  fs.writeFileSync(db, '');
  fs.writeFileSync(
    conf,
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `database = ${db}`,
      `new_certs_dir = ${dir}`,
      `serial = ${path.join(dir, `${id}.serial`)}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(dir, `${id}.serial`), `${(Date.now() * 100 + serial).toString(16).padStart(16, '0')}\n`);
  const sans = options.names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  fs.writeFileSync(
    ext,
    options.isCa
      ? '[v3]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n'
      : `[v3]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = ${sans}\n`,
  );
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], dir);
  const cn = options.isCa ? `Slipway Test Intermediate ${id}` : (options.names[0] ?? 'none');
  await openssl(['req', '-new', '-key', keyFile, '-out', csr, '-subj', `/CN=${cn}`], dir);
  await openssl(
    [
      'ca',
      '-batch',
      '-notext',
      '-config',
      conf,
      '-cert',
      ca.certFile,
      '-keyfile',
      ca.keyFile,
      '-in',
      csr,
      '-out',
      certFile,
      '-startdate',
      opensslDate(options.notBeforeDays ?? -1),
      '-enddate',
      opensslDate(options.notAfterDays ?? 90),
      '-extfile',
      ext,
      '-extensions',
      'v3',
    ],
    dir,
  );
  const cert = fs.readFileSync(certFile, 'utf8');
  return { dir, cert, key: fs.readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

export interface HttpsReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The certificate the router presented. */
  readonly peer: tls.PeerCertificate;
}

/** One HTTPS request to 127.0.0.1:`port` for `host` (SNI and Host), trusting `ca`. */
export function httpsGet(
  port: number,
  host: string,
  ca: string,
  options: { path?: string; agent?: https.Agent | false } = {},
): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      servername: host,
      headers: { host },
      path: options.path ?? '/',
      ca,
      agent: options.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peer }));
    });
    req.end();
  });
}

export interface LoopResult {
  failures: number;
  done: number;
  /** SHA-256 fingerprints of the certificates the server presented. */
  readonly fingerprints: Set<string>;
}

/**
 * HTTPS requests in a loop (half over keep-alive connections, half over a new
 * connection each; with `keepAlive` false, all over new ones) while `during` runs, counting failures: a failed handshake,
 * a broken connection or a status other than 200. `during` sees the counts as they grow.
 */
export async function httpsLoop(
  port: number,
  host: string,
  ca: string,
  during: (live: LoopResult) => Promise<void>,
  loops = 4,
  keepAlive = true,
): Promise<LoopResult> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: loops });
  const result: LoopResult = { failures: 0, done: 0, fingerprints: new Set() };
  let stop = false;
  const loop = async (agent: https.Agent | false) => {
    while (!stop) {
      try {
        const reply = await httpsGet(port, host, ca, { agent });
        if (reply.status !== 200) result.failures++;
        result.fingerprints.add(reply.peer.fingerprint256);
        result.done++;
      } catch {
        result.failures++;
      }
    }
  };
  const running = Array.from({ length: loops }, (_, i) => loop(keepAlive && i % 2 === 0 ? agent : false));
  try {
    await during(result);
  } finally {
    stop = true;
    await Promise.all(running);
    agent.destroy();
  }
  return result;
}

/** The web process of the HTTPS tests: answers with what the router told it (proto, port, host). */
const ECHO_SERVER = `require('node:http').createServer((req, res) => {
  const h = req.headers;
  res.end(JSON.stringify({ proto: h['x-forwarded-proto'], port: h['x-forwarded-port'], host: h.host }));
}).listen(process.env.PORT);
`;

/** Creates `app` and deploys the echo web process to it. */
export async function deployEchoApp(slipway: Slipway, app: string): Promise<void> {
  const created = await slipway.cli(['apps:create', app]);
  if (created.code !== 0) throw new Error(created.stderr);
  const dir = fixtureCopy('web-worker-hook', { Procfile: 'web: node server.js\n', 'server.js': ECHO_SERVER });
  const deployed = await slipway.cli(['deploy', dir, '-a', app]);
  fs.rmSync(dir, { recursive: true, force: true });
  if (deployed.code !== 0) throw new Error(deployed.stderr);
}
