// Live backends for the nginx driver: whether nginx's Lua module is installed,
// the route table as the control server takes it, and the two calls Slipway
// makes over the control socket (push the table, count requests in flight).

import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AppRoute } from '../types.ts';

/** Where Debian's libnginx-mod-http-lua (and the ndk it needs) put their modules. */
const DEBIAN_MODULES = '/usr/lib/nginx/modules';
const MODULE_FILES = ['ndk_http_module.so', 'ngx_http_lua_module.so'];
/** sun_path holds 108 bytes, its terminating NUL included. */
const MAX_SOCKET_PATH = 107;
const CONTROL_TIMEOUT_MS = 10_000;

/** The module files to load, or why live backends cannot be used. */
export function findLuaModules(modulesDir = DEBIAN_MODULES): { modules: string[] } | { missing: string } {
  const modules = MODULE_FILES.map((name) => `${modulesDir}/${name}`);
  const absent = modules.filter((file) => !fs.existsSync(file));
  if (absent.length > 0) return { missing: `${absent.join(', ')} not found (apt-get install libnginx-mod-http-lua)` };
  return { modules };
}

export function socketPathProblem(socketPath: string): string | null {
  return Buffer.byteLength(socketPath) > MAX_SOCKET_PATH
    ? `the control socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes`
    : null;
}

/**
 * The route table as the control server takes it: one line per app,
 * `<app>[ <id> <host> <port>]*`, app and ids URI-encoded (never a space),
 * hosts as IP literals (IPv6 in brackets): nginx's balancer takes no names.
 */
export async function routeTableText(routes: ReadonlyMap<string, AppRoute>): Promise<string> {
  const lines: string[] = [];
  for (const [app, route] of routes) {
    const fields = [encodeURIComponent(app)];
    for (const b of route.backends) fields.push(encodeURIComponent(b.id), await ipLiteral(b.host), String(b.port));
    lines.push(`${fields.join(' ')}\n`);
  }
  return lines.join('');
}

async function ipLiteral(host: string): Promise<string> {
  const address = net.isIP(host) !== 0 ? host : (await dns.lookup(host)).address;
  return address.includes(':') ? `[${address}]` : address;
}

/** Replaces nginx's route table; rejects unless nginx stored it. */
export async function pushRouteTable(socketPath: string, text: string): Promise<void> {
  const reply = await control(socketPath, 'PUT', '/routes', text);
  if (reply.status !== 200) throw new Error(`nginx refused the route table (${reply.status}): ${reply.body.trim()}`);
}

/** Replaces nginx's certificates (hostname → chain and key); rejects unless nginx stored them. */
export async function pushCertificates(
  socketPath: string,
  certificates: readonly { hostnames: readonly string[]; cert: string; key: string }[],
): Promise<void> {
  const records = certificates.flatMap((c) => {
    const blob = `${c.cert}\0${c.key}`;
    return c.hostnames.map((name) => `${name.toLowerCase()} ${Buffer.byteLength(blob)}\n${blob}`);
  });
  const reply = await control(socketPath, 'PUT', '/certs', records.join(''));
  if (reply.status !== 200) throw new Error(`nginx refused the certificates (${reply.status}): ${reply.body.trim()}`);
}

/** Requests in flight to these backends through these worker processes. */
export async function countInFlight(
  socketPath: string,
  backendIds: readonly string[],
  workerPids: readonly number[],
): Promise<number> {
  // Ids are stored URI-encoded; the query string encodes them once more.
  const query = new URLSearchParams({
    ids: backendIds.map(encodeURIComponent).join(','),
    pids: workerPids.join(','),
  });
  const reply = await control(socketPath, 'GET', `/inflight?${query}`);
  const total = Number(reply.body.trim());
  if (reply.status !== 200 || !Number.isInteger(total)) {
    throw new Error(`nginx could not count requests in flight (${reply.status}): ${reply.body.trim()}`);
  }
  return total;
}

function control(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, agent: false, timeout: CONTROL_TIMEOUT_MS });
    req.on('timeout', () =>
      req.destroy(new Error(`no answer from nginx's control socket in ${CONTROL_TIMEOUT_MS} ms`)),
    );
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.end(body);
  });
}
