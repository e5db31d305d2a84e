// Server settings, one declaration each in SETTINGS below: its environment
// twin, its parser, its default. Read once, from flags, then SLIPWAY_*
// environment variables, then defaults; parsed by plain functions (no schema
// library: this module is on the restart path, where every module read
// delays the apps answering again), frozen, passed down. Nothing else in the
// server reads process.env.

import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import { STEPS, type Step } from '../core/lifecycle.ts';

export const RUNTIME_CHOICES = ['auto', 'sandbox', 'process', 'docker', 'swarm'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `60` (seconds), `500ms`, `30s`, `20m`, `1h`, `30d` → milliseconds. */
export function parseDuration(value: string | number): number {
  const match = DURATION.exec(String(value).trim());
  if (!match) throw new Error(`invalid duration ${JSON.stringify(value)} (use e.g. 60, 500ms, 30s, 20m)`);
  return Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS]);
}

const SIZE = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i;
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
};

/** `1048576`, `512kb`, `200mb`, `1g` → bytes. */
export function parseSize(value: string | number): number {
  const match = SIZE.exec(String(value).trim());
  if (!match) throw new Error(`invalid size ${JSON.stringify(value)} (use e.g. 200mb, 1g)`);
  return Number(match[1]) * (UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] ?? 1);
}

const text = (v: string | number) => {
  const t = String(v);
  if (t === '') throw new Error('must not be empty');
  return t;
};
const oneOf =
  <T extends string>(choices: readonly T[]) =>
  (v: string | number): T => {
    if (!choices.includes(v as T)) throw new Error(`must be one of ${choices.join(', ')}`);
    return v as T;
  };
const integer = (min: number, max: number) => (v: string | number) => {
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`must be a whole number from ${min} to ${max}`);
  }
  return n;
};
const port = integer(0, 65535);
const flag = (v: string | number) => {
  const t = String(v).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw new Error('must be true or false (1/0, yes/no, on/off)');
};
const httpUrl = (v: string | number) => {
  const u = String(v);
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/i.test(u)) throw new Error('must be an http(s) URL');
  return u.replace(/\/+$/, '');
};
const dnsName = (v: string | number) => {
  const d = String(v);
  if (!/^[a-z0-9.-]+$/i.test(d)) throw new Error('must be a DNS name');
  return d.toLowerCase().replace(/^\.+|\.+$/g, '');
};
const postgresUrl = (v: string | number) => {
  const u = String(v);
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new Error('must be a postgres://user:password@host:port/database URL');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol) || parsed.hostname === '' || /\s/.test(u))
    throw new Error('must be a postgres://user:password@host:port/database URL');
  return u;
};
/** Comma-separated dockerd sockets (`/path` or `unix:///path`). */
const socketList = (v: string | number): readonly string[] =>
  String(v)
    .split(',')
    .map((item) => item.trim().replace(/^unix:\/\//, ''))
    .filter((item) => {
      if (item !== '' && !path.isAbsolute(item)) throw new Error('must be absolute socket paths, comma-separated');
      return item !== '';
    });
/** `1g`, `500mb` (bytes, as parseSize) or `5%` of the file system. */
export function parseDiskReserve(value: string | number): DiskReserve {
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const n = Number(percent[1]);
    if (n > 90) throw new Error('a percentage of at most 90%');
    return { percent: n };
  }
  try {
    return { bytes: parseSize(text) };
  } catch {
    throw new Error(`invalid disk reserve ${JSON.stringify(value)} (use e.g. 1g, 500mb or 5%)`);
  }
}

export type DiskReserve = { readonly bytes: number } | { readonly percent: number };

export interface ChaosPause {
  readonly step: Step;
  readonly ms: number;
}
const chaosPause = (v: string | number): ChaosPause => {
  const [step, ms] = String(v).split(':');
  if (!STEPS.includes(step as Step) || ms === undefined) {
    throw new Error(`use STEP:DURATION with a step of ${STEPS.join(', ')}`);
  }
  return { step: step as Step, ms: parseDuration(ms) };
};

interface Declared<T> {
  /** The environment twin. */
  readonly env: string;
  /** The flag (`SettingsInput` key), when it is not the setting's own name. */
  readonly flag?: string;
  readonly parse: (value: string | number) => T;
  readonly fallback: T;
}
const setting = <T>(env: string, parse: (value: string | number) => T, fallback: T, flag?: string): Declared<T> =>
  flag === undefined ? { env, parse, fallback } : { env, parse, fallback, flag };

/** Every setting, once. */
const SETTINGS = {
  /** Data directory (DESIGN §2 layout), resolved against the working directory. */
  home: setting('SLIPWAY_HOME', text, './.slipway'),
  /** The store on PostgreSQL (`postgres://...`); unset: SQLite in the home (docs/scale-out.md). */
  databaseUrl: setting('SLIPWAY_DATABASE_URL', postgresUrl, null as string | null),
  host: setting('SLIPWAY_HOST', text, '127.0.0.1'),
  port: setting('SLIPWAY_PORT', port, 5100),
  routerHost: setting('SLIPWAY_ROUTER_HOST', text, '0.0.0.0'),
  routerPort: setting('SLIPWAY_ROUTER_PORT', port, 8080),
  /** The built-in router's HTTPS listener (docs/https.md); null: none. */
  routerTlsPort: setting('SLIPWAY_ROUTER_TLS_PORT', port, null as number | null),
  domain: setting('SLIPWAY_DOMAIN', dnsName, 'localhost'),
  /** The API and dashboard over HTTPS with this certificate chain and key (PEM files; docs/https.md). */
  apiTlsCert: setting('SLIPWAY_API_TLS_CERT', text, null as string | null),
  apiTlsKey: setting('SLIPWAY_API_TLS_KEY', text, null as string | null),
  /** The API and dashboard over HTTPS with an ACME certificate for this name (docs/https.md). */
  apiDomain: setting('SLIPWAY_API_DOMAIN', dnsName, null as string | null),
  /** Whether apps that never ran `certs:auto` get ACME certificates (docs/https.md). */
  certsAuto: setting('SLIPWAY_CERTS_AUTO', flag, false),
  /** The ACME directory: Let's Encrypt's production one by default (staging: docs/https.md). */
  acmeDirectoryUrl: setting(
    'SLIPWAY_ACME_DIRECTORY',
    httpUrl,
    'https://acme-v02.api.letsencrypt.org/directory',
    'acmeDirectory',
  ),
  /** The ACME challenge: http-01 on the router's HTTP port, or tls-alpn-01 on its HTTPS port (built-in router). */
  acmeChallenge: setting('SLIPWAY_ACME_CHALLENGE', oneOf(['http-01', 'tls-alpn-01'] as const), 'http-01'),
  /** Contact address given to the ACME CA (expiry notices). */
  acmeEmail: setting('SLIPWAY_ACME_EMAIL', text, undefined as string | undefined),
  /** ACME certificates are renewed this long before they expire. */
  certsRenewBeforeMs: setting('SLIPWAY_CERTS_RENEW_BEFORE', parseDuration, 30 * 86_400_000, 'certsRenewBefore'),
  /** How often every app's certificates are looked at (orders due, renewals). */
  certsCheckIntervalMs: setting('SLIPWAY_CERTS_CHECK_INTERVAL', parseDuration, 3_600_000, 'certsCheckInterval'),
  /** First wait after a failed ACME attempt (doubles per failure, up to a day). */
  certsRetryMs: setting('SLIPWAY_CERTS_RETRY', parseDuration, 60_000, 'certsRetry'),
  /** `auto`: the sandbox when this host can run it, else `process` (with a warning). */
  runtime: setting('SLIPWAY_RUNTIME', oneOf(RUNTIME_CHOICES), 'auto'),
  /** The docker runtime's dockerd (docs/docker.md). */
  dockerSocket: setting('SLIPWAY_DOCKER_SOCKET', text, '/var/run/docker.sock'),
  /** Swarm runtime: the other nodes' dockerd sockets, each new release image is loaded into (docs/scale-out.md). */
  swarmNodes: setting('SLIPWAY_SWARM_NODES', socketList, [] as readonly string[]),
  /** Swarm runtime: run where a node's default bridge lets containers reach one another (refused otherwise). */
  swarmSharedBridge: setting('SLIPWAY_SWARM_SHARED_BRIDGE', flag, false),
  /** Router driver: the built-in node:http proxy, or an nginx master Slipway runs and reconfigures. */
  router: setting('SLIPWAY_ROUTER', oneOf(['builtin', 'nginx'] as const), 'builtin'),
  /**
   * Built-in router only: processes serving router traffic, the server's own included (1: no
   * router workers). On 2 cores, shared with the apps, a second process measured slower (BENCHMARKS.md).
   */
  routerWorkers: setting('SLIPWAY_ROUTER_WORKERS', integer(1, 64), 1),
  bootTimeoutMs: setting('SLIPWAY_BOOT_TIMEOUT', parseDuration, 60_000, 'bootTimeout'),
  hookTimeoutMs: setting('SLIPWAY_HOOK_TIMEOUT', parseDuration, 20 * 60_000, 'hookTimeout'),
  buildTimeoutMs: setting('SLIPWAY_BUILD_TIMEOUT', parseDuration, 15 * 60_000, 'buildTimeout'),
  /**
   * A stop (SIGTERM, SIGINT) leaves the apps' containers and the nginx router running, for the
   * next start to take over (docker and swarm runtimes; docs/scale-out.md). Off: a stop stops them.
   */
  keepAppsOnExit: setting('SLIPWAY_KEEP_APPS_ON_EXIT', flag, false),
  /** Grace between SIGTERM and SIGKILL when containers stop. */
  stopGraceMs: setting('SLIPWAY_STOP_GRACE', parseDuration, 30_000, 'stopGrace'),
  /** Longest wait for in-flight requests to finish before retiring a container. */
  drainTimeoutMs: setting('SLIPWAY_DRAIN_TIMEOUT', parseDuration, 30_000, 'drainTimeout'),
  /** First delay of the crash-restart backoff (doubles while a container keeps crashing). */
  restartBackoffMs: setting('SLIPWAY_RESTART_BACKOFF', parseDuration, 1000, 'restartBackoff'),
  /** Builds running at once across all apps (others wait `queued`). */
  maxConcurrentBuilds: setting('SLIPWAY_MAX_BUILDS', integer(1, 64), 2, 'maxBuilds'),
  /** Chaos testing only: every deployment pauses this long when it enters this step. */
  chaosPause: setting('SLIPWAY_CHAOS_PAUSE', chaosPause, null as ChaosPause | null),
  maxUploadBytes: setting('SLIPWAY_MAX_UPLOAD', parseSize, 512 * 1024 ** 2, 'maxUpload'),
  maxUnpackedBytes: setting('SLIPWAY_MAX_UNPACKED', parseSize, 2 * 1024 ** 3, 'maxUnpacked'),
  /**
   * Free space the server keeps for itself on the home's file system: under it, new deployments,
   * pushes and uploads are refused (`disk.reserve_reached`). Bytes, or a percentage of the file
   * system's size. 0 turns it off.
   */
  diskReserve: setting('SLIPWAY_DISK_RESERVE', parseDiskReserve, { bytes: 1024 ** 3 } as DiskReserve),
  /** Token used as the admin token at first start (automation); never stored in clear. */
  initialToken: setting('SLIPWAY_TOKEN', text, undefined as string | undefined),
  logLevel: setting('SLIPWAY_LOG_LEVEL', oneOf(LOG_LEVELS), 'info'),
  /** The server log's lines: `pretty` for people, `json` for machines; `auto`: pretty on a terminal. */
  logFormat: setting('SLIPWAY_LOG_FORMAT', oneOf(['auto', 'json', 'pretty'] as const), 'auto'),
  /** GitHub (or GitHub Enterprise) web URL: repositories are fetched from `<githubUrl>/<owner>/<repo>.git`. */
  githubUrl: setting('SLIPWAY_GITHUB_URL', httpUrl, 'https://github.com'),
  /** GitHub API base URL, for commit statuses. */
  githubApiUrl: setting('SLIPWAY_GITHUB_API_URL', httpUrl, 'https://api.github.com'),
  /** Whether URL deploys may fetch from loopback, private and link-local addresses (off: SSRF). */
  allowPrivateFetch: setting('SLIPWAY_ALLOW_PRIVATE_FETCH', flag, false),
  /** Whether a folder of this host may be an app's buildpack (off: apps could read the server's files). */
  allowLocalBuildpacks: setting('SLIPWAY_ALLOW_LOCAL_BUILDPACKS', flag, false),
  /** Each app's build cache is trimmed to this before a build, oldest buildpack caches first. */
  buildCacheMaxBytes: setting('SLIPWAY_BUILD_CACHE_MAX', parseSize, 1024 ** 3, 'buildCacheMax'),
  /** Client connections per router process (null: 40% of the open-files limit). */
  routerMaxConnections: setting('SLIPWAY_ROUTER_MAX_CONNECTIONS', integer(16, 1_000_000), null as number | null),
  /** Client connections the API and dashboard accept at once. */
  apiMaxConnections: setting('SLIPWAY_API_MAX_CONNECTIONS', integer(16, 1_000_000), 512),
  /** Time a client of the router or the API has to send a request's headers. */
  headersTimeoutMs: setting('SLIPWAY_HEADERS_TIMEOUT', parseDuration, 30_000, 'headersTimeout'),
  /** An existing PostgreSQL server's admin URL for the postgresql add-on, instead of the embedded cluster. */
  postgresUrl: setting('SLIPWAY_POSTGRES_URL', postgresUrl, undefined as string | undefined),
} as const;

type Table = typeof SETTINGS;
export type Settings = { readonly [K in keyof Table]: Table[K]['fallback'] };

/** What flags may give: a setting by its flag name (`bootTimeout`, `maxUpload`) or its own name. */
export type SettingsInput = Partial<Record<string, string | number>>;

export function loadSettings(
  flags: SettingsInput,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Settings {
  const parsed: Record<string, unknown> = {};
  for (const [key, declared] of Object.entries(SETTINGS) as [string, Declared<unknown>][]) {
    const name = declared.flag ?? key;
    const value = flags[name] ?? env[declared.env];
    if (value === undefined || value === '') {
      parsed[key] = declared.fallback;
      continue;
    }
    try {
      parsed[key] = declared.parse(value);
    } catch (err) {
      throw new SlipwayError('request.invalid', `invalid setting ${name} (${declared.env}): ${(err as Error).message}`);
    }
  }
  parsed.home = path.resolve(cwd, parsed.home as string);
  return Object.freeze(parsed as Settings);
}

/** DESIGN §2 data directory layout. */
export function dataPaths(home: string) {
  return Object.freeze({
    database: path.join(home, 'slipway.db'),
    slugs: path.join(home, 'slugs'),
    cache: path.join(home, 'cache'),
    /** Git buildpacks, one folder per commit (fetched once). */
    buildpacks: path.join(home, 'buildpacks'),
    builds: path.join(home, 'builds'),
    containers: path.join(home, 'containers'),
    /** Apps' volumes: images and their mounts, or directories (docs/volumes.md). */
    volumes: path.join(home, 'volumes'),
    deploymentLogs: path.join(home, 'logs', 'deployments'),
    appLogs: path.join(home, 'logs', 'apps'),
    repos: path.join(home, 'repos'),
    nginx: path.join(home, 'router', 'nginx'),
    /** Add-ons' own data: the embedded PostgreSQL cluster (docs/addons.md). */
    addons: path.join(home, 'addons'),
    /** Backups of add-ons' data, per app (docs/addons.md, "Backups"). */
    addonBackups: path.join(home, 'addons', 'backups'),
    /** Certificates and the ACME account key (docs/https.md). */
    certs: path.join(home, 'certs'),
  });
}
export type DataPaths = ReturnType<typeof dataPaths>;
