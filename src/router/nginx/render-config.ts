// The nginx configuration for a route table, as one string. Pure: the same
// routes give the same text. Behaviour mirrors the built-in router: Host-based
// routing, X-Forwarded-* and X-Request-Id, keep-alive upstream pools,
// streaming bodies, and the same 404/502/503/504 pages.
//
// Two shapes. With live backends (the Lua module is installed) the text
// depends only on the apps and their hostnames: every app proxies to one
// Lua-balanced upstream that reads the app's backends from a shared dict,
// a Lua header filter refuses answers that cannot be framed with certainty,
// and a control server on a unix socket takes the route table. Without it,
// each app gets its own `upstream` listing its backends, so every route
// change is a new configuration.

import { renderErrorPages } from '../error-pages.ts';
import type { AppRoute } from '../types.ts';
import { LUA_MODULE_NAME, REFUSED_ANSWER_STATUS } from './lua-module.ts';

export interface NginxConfigOptions {
  /** Working directory: pid file and temp paths live under it. */
  readonly dir: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly domain: string;
  /** `auto` or a number of worker processes. */
  readonly workers: number | 'auto';
  /** Idle time allowed on a backend connection, like the built-in router's. */
  readonly upstreamTimeoutMs: number;
  /** Longest time old workers keep serving in-flight requests after a reload. */
  readonly shutdownTimeoutMs: number;
  /** Idle keep-alive connections kept per app upstream (per worker). */
  readonly keepalivePerApp: number;
  /** Backends pushed live over a control socket; absent: backends are written into the configuration. */
  readonly live?: LiveConfig;
  /** The HTTPS listener and the certificates it serves (files written by the driver); absent: none. */
  readonly tls?: TlsConfig;
  /** ACME http-01 answers on plain HTTP, token → key authorization (both URL-safe characters only). */
  readonly challenges?: ReadonlyMap<string, string>;
}

export interface TlsConfig {
  readonly port: number;
  /**
   * Certificates pushed live (Lua, `ssl_certificate_by_lua`): `certificates` is then empty, and
   * each app's HTTPS server names this stand-in, which nginx requires but never serves.
   */
  readonly pushed?: { readonly certFile: string; readonly keyFile: string };
  readonly certificates: readonly {
    readonly hostnames: readonly string[];
    readonly certFile: string;
    readonly keyFile: string;
  }[];
}

/** The built-in router's TLS 1.2 suites (Mozilla "intermediate", forward-secret AEAD only). */
const TLS12_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:' +
  'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

export interface LiveConfig {
  /** Absolute paths of the dynamic modules to load (ndk, then lua). */
  readonly modules: readonly string[];
  /** Directory holding slipway_router.lua. */
  readonly luaDir: string;
  /** The control server's unix socket (in a directory only its owner can enter). */
  readonly controlSocket: string;
}

/** Response header lines of the `http` block, repeated where a server adds its own (nginx inherits none then). */
const HIDDEN_HEADERS = ['proxy_hide_header X-Request-Id;', 'proxy_hide_header Proxy-Authenticate;'];
const ADDED_HEADERS = ['add_header X-Request-Id $slipway_request_id always;'];
/** What an app's HTTPS responses carry with HSTS on, as from the built-in router (a year). */
const HSTS_HEADER = 'Strict-Transport-Security max-age=31536000';

/** Shared memory for the route table and the in-flight counts; a fixed size, so reloads keep it. */
const ROUTES_DICT = 'slipway_routes 4m';
/** The certificates pushed live (about 4 kB per hostname); a fixed size, so reloads keep it. */
const CERTS_DICT = 'slipway_certs 16m';
/**
 * Idle time of a pooled connection to a backend in live mode. No reload
 * closes the pool of a retired backend, and the balancer never picks it
 * again, so its idle connections only wait for this to close.
 */
const LIVE_UPSTREAM_IDLE = '1s';

/** Hostnames nginx can take literally in `server_name` (lower-cased, no port or trailing dot). */
const PLAIN_HOSTNAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;

/** Host → app, latest installed route winning a conflict, as in the built-in router. */
export function hostnameOwners(routes: ReadonlyMap<string, AppRoute>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [app, route] of routes) {
    for (const name of route.hostnames) {
      const key = configHostname(name);
      if (key !== undefined) owners.set(key, app);
    }
  }
  return owners;
}

/** The `server_name` form of a hostname, or undefined when nginx could not take it literally. */
export function configHostname(name: string): string | undefined {
  let key = name.toLowerCase();
  const colon = key.indexOf(':');
  if (colon !== -1) key = key.slice(0, colon);
  if (key.endsWith('.')) key = key.slice(0, -1);
  return PLAIN_HOSTNAME.test(key) ? key : undefined;
}

export function renderNginxConfig(routes: ReadonlyMap<string, AppRoute>, options: NginxConfigOptions): string {
  const pages = renderErrorPages(options.domain);
  const listen = `listen ${listenAddress(options.listenHost, options.listenPort)}`;
  const owners = hostnameOwners(routes);
  const namesByApp = new Map<string, string[]>();
  for (const [host, app] of owners) namesByApp.set(app, [...(namesByApp.get(app) ?? []), host]);

  const upstreams: string[] = [];
  const servers: string[] = [];
  const errorLocations = (app: string) =>
    `    location @slipway_503 {\n${errorReturn(503, pages.noBackend(app), 6)}    }\n` +
    `    location @slipway_502 {\n${errorReturn(502, pages.badGateway, 6)}    }\n` +
    `    location @slipway_504 {\n${errorReturn(504, pages.gatewayTimeout, 6)}    }\n`;
  let index = 0;
  const bodies = new Map<string, string>();
  const challenges = [...(options.challenges ?? [])]
    .map(
      ([token, answer]) =>
        `    location = /.well-known/acme-challenge/${token} {\n      default_type text/plain;\n      return 200 '${answer}';\n    }\n`,
    )
    .join('');
  for (const [app, route] of routes) {
    const names = namesByApp.get(app);
    if (names === undefined) continue;
    index++;
    const server =
      `  server {\n    ${listen};\n    server_name ${names.join(' ')};\n` +
      (route.forceHttps === true && options.tls !== undefined ? redirectToHttps(options.tls.port) : '');
    if (options.live !== undefined) {
      bodies.set(
        app,
        `    set $slipway_app ${quote(encodeURIComponent(app))};\n    set $slipway_peer '';\n` +
          `    log_by_lua_block { require("${LUA_MODULE_NAME}").log() }\n` +
          `    location / {\n      access_by_lua_block { require("${LUA_MODULE_NAME}").access() }\n` +
          `      header_filter_by_lua_block { require("${LUA_MODULE_NAME}").check_answer() }\n` +
          `      proxy_pass http://slipway_balancer;\n    }\n${errorLocations(app)}` +
          // A refused answer: its 502 is sent from inside the header filter, which leaves the
          // client connection unusable for another request, so keep-alive is off here.
          `    location @slipway_refused {\n      keepalive_timeout 0;\n${errorReturn(502, pages.badGateway, 6)}    }\n`,
      );
      servers.push(`${server}${challenges}${bodies.get(app)}  }\n`);
      continue;
    }
    if (route.backends.length === 0) {
      bodies.set(app, `    location / {\n${errorReturn(503, pages.noBackend(app), 6)}    }\n`);
      servers.push(`${server}${challenges}${bodies.get(app)}  }\n`);
      continue;
    }
    const upstream = `slipway_${index}_${app.replace(/[^a-zA-Z0-9_]/g, '_')}`;
    const members = route.backends.map((b) => `    server ${hostPort(b.host, b.port)} max_fails=0;\n`).join('');
    upstreams.push(
      `  upstream ${upstream} {\n    zone ${upstream} 64k;\n${members}` +
        `    keepalive ${options.keepalivePerApp};\n    keepalive_timeout 4s;\n  }\n`,
    );
    bodies.set(app, `    location / {\n      proxy_pass http://${upstream};\n    }\n${errorLocations(app)}`);
    servers.push(`${server}${challenges}${bodies.get(app)}  }\n`);
  }
  if (options.tls !== undefined) servers.push(...tlsServers(options.tls, owners, bodies, routes));
  if (options.live !== undefined)
    upstreams.push(...liveBlocks(options.live, options.keepalivePerApp * Math.max(1, index)));

  const timeout = `${Math.max(1, options.upstreamTimeoutMs)}ms`;
  const temp = (name: string) => quotePath(`${options.dir}/temp/${name}`);
  return [
    '# Written by Slipway on every route change; edits are overwritten.',
    ...(options.live?.modules.map((file) => `load_module ${quotePath(file)};`) ?? []),
    'daemon off;',
    'master_process on;',
    `worker_processes ${options.workers};`,
    `worker_shutdown_timeout ${Math.max(1, options.shutdownTimeoutMs)}ms;`,
    `pid ${quotePath(`${options.dir}/nginx.pid`)};`,
    'error_log stderr warn;',
    'events {\n  worker_connections 8192;\n}',
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    '  server_names_hash_bucket_size 128;',
    '  server_names_hash_max_size 8192;',
    `  client_body_temp_path ${temp('body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    '  client_max_body_size 0;',
    '  keepalive_requests 100000;',
    // A sane client X-Request-Id is kept; otherwise nginx's random id, shaped as a UUID.
    '  map $request_id $slipway_generated_id {',
    '    "~^(?<slipway_a>.{8})(?<slipway_b>.{4})(?<slipway_c>.{4})(?<slipway_d>.{4})(?<slipway_e>.{12})$"' +
      ' "$slipway_a-$slipway_b-$slipway_c-$slipway_d-$slipway_e";',
    '  }',
    '  map $http_x_request_id $slipway_request_id {',
    '    "~^[A-Za-z0-9._-]{1,200}$" $http_x_request_id;',
    '    default $slipway_generated_id;',
    '  }',
    // Upgrades keep Connection: upgrade; everything else reuses pooled connections.
    '  map $http_upgrade $slipway_connection {',
    '    default upgrade;',
    "    '' '';",
    '  }',
    "  geo $slipway_dollar {\n    default '$';\n  }",
    // An absolute-form request target names the host (RFC 9112 §3.2.2): nginx routes by it, so the
    // backend gets it as Host too, as from the built-in router. Else the Host header as sent.
    '  map $request $slipway_host {',
    '    "~*^[^ ]+ https?://(?<slipway_authority>[^/?# ]+)" $slipway_authority;',
    '    default $http_host;',
    '  }',
    // RFC 7239 Forwarded: IPv6 and host:port are quoted.
    '  map $remote_addr $slipway_forwarded_for {',
    '    "~:" "\\"[$remote_addr]\\"";',
    '    default $remote_addr;',
    '  }',
    '  map $slipway_host $slipway_forwarded_host {',
    '    "~^[-!#%&\'*+.^_`|~0-9A-Za-z]+$" $slipway_host;',
    '    default "\\"$slipway_host\\"";',
    '  }',
    '  proxy_http_version 1.1;',
    '  proxy_set_header Host $slipway_host;',
    '  proxy_set_header Connection $slipway_connection;',
    '  proxy_set_header Upgrade $http_upgrade;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    '  proxy_set_header X-Forwarded-Port $server_port;',
    '  proxy_set_header X-Forwarded-Host $slipway_host;',
    '  proxy_set_header X-Real-IP $remote_addr;',
    '  proxy_set_header Forwarded "for=$slipway_forwarded_for;host=$slipway_forwarded_host;proto=$scheme";',
    '  proxy_set_header X-Request-Id $slipway_request_id;',
    '  proxy_set_header Keep-Alive "";',
    '  proxy_set_header TE "";',
    '  proxy_set_header Proxy-Authorization "";',
    '  proxy_set_header Proxy-Connection "";',
    ...[...HIDDEN_HEADERS, ...ADDED_HEADERS].map((line) => `  ${line}`),
    '  proxy_buffering off;',
    '  proxy_request_buffering off;',
    '  proxy_connect_timeout 5s;',
    `  proxy_read_timeout ${timeout};`,
    `  proxy_send_timeout ${timeout};`,
    '  proxy_next_upstream error;',
    '  proxy_next_upstream_tries 2;',
    '  error_page 502 @slipway_502;',
    '  error_page 504 @slipway_504;',
    ...(options.live !== undefined ? [`  error_page ${REFUSED_ANSWER_STATUS} =502 @slipway_refused;`] : []),
    ...(options.tls === undefined
      ? []
      : [
          '  ssl_protocols TLSv1.2 TLSv1.3;',
          `  ssl_ciphers ${TLS12_CIPHERS};`,
          '  ssl_prefer_server_ciphers on;',
          '  ssl_session_cache shared:slipway_tls:10m;',
        ]),
    '',
    ...upstreams,
    `  server {\n    ${listen} default_server;\n    server_name _;\n${challenges}` +
      `    location / {\n${errorReturn(404, pages.notFound, 6)}    }\n  }\n`,
    ...servers,
    '}',
    '',
  ].join('\n');
}

/**
 * HTTPS: per certificate and app, a server block with the app's locations
 * for the hostnames that certificate serves (nginx picks the block, so the
 * certificate, by SNI); a name without one has its handshake refused.
 */
function tlsServers(
  tls: TlsConfig,
  owners: ReadonlyMap<string, string>,
  bodies: ReadonlyMap<string, string>,
  routes: ReadonlyMap<string, AppRoute>,
): string[] {
  const listen = `listen ${tls.port} ssl`;
  const out = [`  server {\n    ${listen} default_server;\n    ssl_reject_handshake on;\n  }\n`];
  if (tls.pushed !== undefined) {
    // Pushed live: one HTTPS server per app for all its names; the Lua module picks the certificate.
    const pushed =
      `    ssl_certificate ${quotePath(tls.pushed.certFile)};\n    ssl_certificate_key ${quotePath(tls.pushed.keyFile)};\n` +
      `    ssl_certificate_by_lua_block { require("${LUA_MODULE_NAME}").ssl_certificate() }\n`;
    const names = new Map<string, string[]>();
    for (const [name, app] of owners) if (bodies.has(app)) names.set(app, [...(names.get(app) ?? []), name]);
    for (const [app, list] of names)
      out.push(
        `  server {\n    ${listen};\n    server_name ${list.join(' ')};\n${pushed}` +
          (routes.get(app)?.hsts === true ? hsts() : '') +
          `${bodies.get(app)}  }\n`,
      );
    return out;
  }
  const served = new Set<string>();
  // The last certificate for a name wins, as in the built-in router.
  const byName = new Map<string, (typeof tls.certificates)[number]>();
  for (const certificate of tls.certificates) {
    for (const name of certificate.hostnames) {
      const key = configHostname(name);
      if (key !== undefined) byName.set(key, certificate);
    }
  }
  const groups = new Map<string, { app: string; names: string[]; certFile: string; keyFile: string }>();
  for (const [name, certificate] of byName) {
    const app = owners.get(name);
    if (app === undefined || !bodies.has(app) || served.has(name)) continue;
    served.add(name);
    const key = `${app}\0${certificate.certFile}`;
    const group = groups.get(key) ?? { app, names: [], ...certificate };
    group.names.push(name);
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    out.push(
      `  server {\n    ${listen};\n    server_name ${group.names.join(' ')};\n` +
        `    ssl_certificate ${quotePath(group.certFile)};\n    ssl_certificate_key ${quotePath(group.keyFile)};\n` +
        (routes.get(group.app)?.hsts === true ? hsts() : '') +
        `${bodies.get(group.app)}  }\n`,
    );
  }
  return out;
}

/**
 * Plain HTTP to an app with `--force-https`: 308 to the same host and path on the HTTPS port, except
 * ACME challenges (ours are exact locations, an app's own go to it). Server level, before any location.
 */
function redirectToHttps(tlsPort: number): string {
  const port = tlsPort === 443 ? '' : `:${tlsPort}`;
  return (
    '    if ($uri !~ "^/\\.well-known/acme-challenge/") {\n' +
    `      return 308 https://$host${port}$request_uri;\n    }\n`
  );
}

/** HSTS on an app's HTTPS answers, replacing the app's own; the http block's header lines again (see above). */
function hsts(): string {
  return [
    ...HIDDEN_HEADERS,
    'proxy_hide_header Strict-Transport-Security;',
    ...ADDED_HEADERS,
    `add_header ${HSTS_HEADER} always;`,
  ]
    .map((line) => `    ${line}\n`)
    .join('');
}

/** The Lua pieces: module, shared dict, the balanced upstream, and the control server. */
function liveBlocks(live: LiveConfig, keepalive: number): string[] {
  const lua = (call: string) => `{ require("${LUA_MODULE_NAME}").${call}() }`;
  return [
    `  lua_package_path ${quotePath(`${live.luaDir}/?.lua;;`)};`,
    `  lua_shared_dict ${ROUTES_DICT};`,
    `  lua_shared_dict ${CERTS_DICT};`,
    `  init_by_lua_block { require("${LUA_MODULE_NAME}") }`,
    `  init_worker_by_lua_block ${lua('init_worker')}`,
    // keepalive must come after the balancer: it wraps the peer the balancer picked.
    `  upstream slipway_balancer {\n    server 0.0.0.1;\n    balancer_by_lua_block ${lua('balance')}\n` +
      `    keepalive ${Math.min(keepalive, 4096)};\n    keepalive_timeout ${LIVE_UPSTREAM_IDLE};\n  }\n`,
    `  server {\n    listen ${quotePath(`unix:${live.controlSocket}`)};\n` +
      '    client_max_body_size 8m;\n    client_body_buffer_size 8m;\n' +
      `    location = /routes {\n      content_by_lua_block ${lua('put_routes')}\n    }\n` +
      `    location = /inflight {\n      content_by_lua_block ${lua('inflight')}\n    }\n` +
      `    location = /certs {\n      content_by_lua_block ${lua('put_certs')}\n    }\n` +
      '    location / {\n      return 404;\n    }\n  }\n',
  ];
}

/** `location` body answering `status` with one of the router's HTML pages. */
function errorReturn(status: number, body: Buffer, indent: number): string {
  const pad = ' '.repeat(indent);
  return (
    `${pad}default_type "text/html; charset=utf-8";\n` +
    `${pad}add_header Cache-Control no-store always;\n` +
    `${pad}add_header X-Request-Id $slipway_request_id always;\n` +
    `${pad}return ${status} ${quote(body.toString('utf8'))};\n`
  );
}

/** A single-quoted nginx string; `$` goes through a variable since nginx has no escape for it. */
function quote(text: string): string {
  const dollar = '$' + '{slipway_dollar}';
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`).replace(/\$/g, dollar)}'`;
}

function quotePath(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function listenAddress(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '') return String(port);
  return hostPort(host, port);
}
