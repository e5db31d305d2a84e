// Deny by default: every route the API registers (read from fastify's own
// route table, not from a list kept here) refuses a caller without
// credentials, however the request spells its path: percent-encoded letters
// and slashes, `//` and `/./` segments, upper case, an absolute-form target,
// `;params`, `?` tricks, HEAD, OPTIONS, a WebSocket upgrade. The few public
// routes are the reviewed list below; a new route is private unless it is
// added there. Dashboard posts need a session and its CSRF token.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RouteAccess } from '../../src/api/access-gate.ts';
import { type InProcessServer, startInProcess } from '../helpers/in-process.ts';
import { type RawResponse, rawRequest } from '../helpers/raw-http.ts';
import { TOKEN } from '../helpers/slipway.ts';

const PUBLIC = [
  'GET /healthz',
  'HEAD /healthz',
  'GET /button.svg',
  'HEAD /button.svg',
  'GET /sign-in',
  'HEAD /sign-in',
  'POST /sign-in',
  'POST /hooks/github',
];

const APP = 'gate-app';
const PARAMS: Record<string, string> = {
  app: APP,
  id: 'd-000000000000',
  version: 'v1',
  hostname: 'www.example.com',
  repo: `${APP}.git`,
};

/** The route's URL with its parameters filled in with values that exist (or could). */
const concrete = (url: string) => url.replace(/:(\w+)/g, (_m, name: string) => PARAMS[name] ?? 'x');

/** Other spellings of one path that a router might read as the same route. */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const first = segments[0] ?? '';
  const encodeFirst = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;
  const encodedLetters = path.replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const lastSlash = path.lastIndexOf('/');
  return [
    path,
    `/${encodeFirst(first)}/${segments.slice(1).join('/')}`.replace(/\/$/, ''),
    encodedLetters,
    lastSlash > 0 ? `${path.slice(0, lastSlash)}%2F${path.slice(lastSlash + 1)}` : `%2F${path.slice(1)}`,
    `/${path}`,
    path.replace(/\//g, '//'),
    `/.${path}`,
    path.replace(/\/(?=[^/]*$)/, '/./'),
    `/x/..${path}`,
    path.toUpperCase(),
    `${path};x=1`,
    `/${first};x=1/${segments.slice(1).join('/')}`.replace(/\/$/, ''),
    `${path}?`,
    `${path}?/healthz`,
    `${path}%3F`,
    `${path}#x`,
    `${path}/`,
  ];
}

// Each request comes from its own loopback address, so the per-client
// throttle on failed authentication (tested on its own below) never answers
// 429 in place of the route's refusal.
let client = 0;
const nextClient = () => {
  client++;
  return `127.1.${Math.floor(client / 250) % 250}.${(client % 250) + 1}`;
};

describe('access gate: deny by default', () => {
  let server: InProcessServer;
  let routes: readonly RouteAccess[];

  const send = (head: string, body?: string, localAddress = nextClient()) =>
    rawRequest({ port: server.apiPort, head, body, localAddress });

  /** A request line and headers with the body a route of this method would take. */
  const request = (method: string, target: string, extra: string[] = []) => {
    const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined;
    const head = [
      `${method} ${target} HTTP/1.1`,
      'Host: 127.0.0.1',
      ...(body ? ['Content-Type: application/json', `Content-Length: ${body.length}`] : []),
      ...extra,
    ].join('\r\n');
    return send(head, body);
  };

  /** Refused by the gate, or matched no route at all; never handled. */
  const assertRefused = async (res: RawResponse, route: RouteAccess, what: string, target: string) => {
    const where = `${route.method} ${route.url} as ${what}: ${res.status} ${res.body.slice(0, 200)}`;
    if (res.status === 404) {
      // A HEAD answer has no body to tell: the same target as GET must be "no such endpoint" too.
      const body = route.method === 'HEAD' ? (await request('GET', target)).body : res.body;
      assert.match(body, /request\.not_found/, `a 404 that is not "no such endpoint" means a handler ran: ${where}`);
      return;
    }
    if (res.status === 400) return; // refused as malformed before any route
    if (route.access === 'session' && (route.method === 'GET' || route.method === 'HEAD')) {
      assert.equal(res.status, 303, where);
      assert.match(res.headers.location ?? '', /^\/sign-in\?next=/, where);
      return;
    }
    assert.equal(res.status, 401, where);
    if (route.access === 'git') assert.match(res.headers['www-authenticate'] ?? '', /^Basic /, where);
  };

  before(async () => {
    server = await startInProcess();
    routes = server.api.routeAccess();
    const created = await fetch(`${server.apiUrl}/api/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: APP }),
    });
    assert.equal(created.status, 201);
  });

  after(() => server?.stop());

  test('the route table is read from fastify, and only the reviewed routes are public', () => {
    assert.ok(routes.length > 40, `${routes.length} routes registered`);
    const publicRoutes = routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(publicRoutes.sort(), [...PUBLIC].sort());
    for (const route of routes) {
      if (route.url.startsWith('/api/')) assert.equal(route.access, 'token', `${route.method} ${route.url}`);
      if (route.url.startsWith('/git/')) assert.equal(route.access, 'git', `${route.method} ${route.url}`);
    }
  });

  test('every private route refuses a caller without credentials, in every spelling', async () => {
    const privateRoutes = routes.filter((r) => r.access !== 'public');
    let checked = 0;
    for (const route of privateRoutes) {
      const path = concrete(route.url);
      for (const target of spellings(path)) {
        await assertRefused(await request(route.method, target), route, target, target);
        checked++;
      }
      // An absolute-form request target names the same route.
      const absolute = `http://127.0.0.1${path}`;
      await assertRefused(await request(route.method, absolute), route, 'absolute-form', absolute);
      const otherHost = `http://evil.example${path}`;
      await assertRefused(await request(route.method, otherHost), route, 'absolute-form, other host', otherHost);
      // Wrong credentials of each kind are no better than none.
      for (const authorization of ['Bearer wrong-token', 'Basic eDp3cm9uZw==', `Basic ${btoa(`x:${TOKEN}x`)}`]) {
        const res = await request(route.method, path, [`Authorization: ${authorization}`]);
        await assertRefused(res, route, authorization, path);
      }
      checked += 5;
    }
    assert.ok(checked > 500, `${checked} requests`);
  });

  test('HEAD, OPTIONS and a WebSocket upgrade reach nothing private', async () => {
    for (const route of routes.filter((r) => r.access !== 'public' && r.method === 'GET')) {
      const path = concrete(route.url);
      const head = await request('HEAD', path);
      await assertRefused(head, { ...route, method: 'HEAD' }, 'HEAD', path);
      const options = await request('OPTIONS', path);
      assert.ok([401, 404].includes(options.status), `OPTIONS ${path}: ${options.status}`);
      if (options.status === 404) assert.match(options.body, /request\.not_found/);
      const upgrade = await request('GET', path, [
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ]);
      assert.notEqual(upgrade.status, 101, `upgrade of ${path}`);
      await assertRefused(upgrade, route, 'WebSocket upgrade', path);
    }
  });

  test('with the token, the same encoded spelling is served (the gate and the router agree)', async () => {
    const res = await request('GET', '/%61pi/apps', [`Authorization: Bearer ${TOKEN}`]);
    assert.equal(res.status, 200);
    assert.match(res.body, new RegExp(APP));
  });

  test('dashboard posts need a session, then its CSRF token', async () => {
    const signIn = await send(
      ['POST /sign-in HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/x-www-form-urlencoded'].join('\r\n') +
        `\r\nContent-Length: ${`token=${TOKEN}`.length}`,
      `token=${TOKEN}`,
    );
    assert.equal(signIn.status, 303);
    const cookie = (signIn.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    assert.match(cookie, /^slipway_session=./);
    const posts = routes.filter((r) => r.access === 'session' && r.method === 'POST');
    assert.ok(posts.length >= 6, posts.map((r) => r.url).join(', '));
    for (const route of posts) {
      for (const form of ['', 'csrf=', 'csrf=not-the-token', 'name=x&KEY=v']) {
        for (const target of [concrete(route.url), spellings(concrete(route.url))[1] ?? '']) {
          const res = await send(
            [
              `POST ${target} HTTP/1.1`,
              'Host: 127.0.0.1',
              `Cookie: ${cookie}`,
              'Content-Type: application/x-www-form-urlencoded',
              `Content-Length: ${form.length}`,
            ].join('\r\n'),
            form,
          );
          if (res.status === 404) assert.match(res.body, /request\.not_found/);
          else assert.equal(res.status, 403, `${route.url} as ${target} with "${form}": ${res.status}`);
        }
      }
    }
    // And the session is real: the same cookie reads a page.
    const page = await send(`GET /%61pps/${APP} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}`);
    assert.equal(page.status, 200);
    assert.match(page.body, new RegExp(`<h1>${APP}</h1>`));
  });

  test('failed git authentication is throttled like the API', async () => {
    const from = nextClient();
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      const res = await send(
        `GET /git/${APP}.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${btoa('x:wrong')}`,
        undefined,
        from,
      );
      statuses.push(res.status);
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
    assert.equal(statuses[21], 429);
    // The token still works from that client: nobody can lock the admin out.
    const ok = await send(
      `GET /git/${APP}.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${btoa(`x:${TOKEN}`)}`,
      undefined,
      from,
    );
    assert.equal(ok.status, 200);
  });
});
