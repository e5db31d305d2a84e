// Server settings: read once from flags, then SLIPWAY_* environment variables,
// then defaults; validated and frozen, then passed down. Nothing else in the
// server reads process.env.

import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import { STEPS, type Step } from '../core/lifecycle.ts';

export const RUNTIME_CHOICES = ['auto', 'sandbox', 'process'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export interface Settings {
  /** Data directory (DESIGN §2 layout). */
  readonly home: string;
  readonly host: string;
  readonly port: number;
  readonly routerHost: string;
  readonly routerPort: number;
  readonly domain: string;
  /** `auto`: the sandbox when this host can run it, else `process` (with a warning). */
  readonly runtime: RuntimeChoice;
  /** Router driver: the built-in node:http proxy, or an nginx master Slipway runs and reconfigures. */
  readonly router: 'builtin' | 'nginx';
  /** Built-in router only: processes serving router traffic, the server's own included (1: no router workers). */
  readonly routerWorkers: number;
  readonly bootTimeoutMs: number;
  readonly hookTimeoutMs: number;
  readonly buildTimeoutMs: number;
  /** Grace between SIGTERM and SIGKILL when containers stop. */
  readonly stopGraceMs: number;
  /** Longest wait for in-flight requests to finish before retiring a container. */
  readonly drainTimeoutMs: number;
  /** First delay of the crash-restart backoff (doubles while a container keeps crashing). */
  readonly restartBackoffMs: number;
  /** Builds running at once across all apps (others wait `queued`). */
  readonly maxConcurrentBuilds: number;
  /** Chaos testing only: every deployment pauses this long when it enters this step. */
  readonly chaosPause: { readonly step: Step; readonly ms: number } | null;
  readonly maxUploadBytes: number;
  readonly maxUnpackedBytes: number;
  /**
   * Free space the server keeps for itself on the home's file system: under
   * it, new deployments, pushes and uploads are refused (`disk.reserve_reached`).
   * Bytes, or a percentage of the file system's size. 0 turns it off.
   */
  readonly diskReserve: DiskReserve;
  /** Token used as the admin token at first start (automation); never stored in clear. */
  readonly initialToken: string | undefined;
  readonly logLevel: string;
  /** GitHub (or GitHub Enterprise) web URL: repositories are fetched from `<githubUrl>/<owner>/<repo>.git`. */
  readonly githubUrl: string;
  /** GitHub API base URL, for commit statuses. */
  readonly githubApiUrl: string;
  /** Whether URL deploys may fetch from loopback, private and link-local addresses (off: SSRF). */
  readonly allowPrivateFetch: boolean;
  /** Client connections per router process (null: 40% of the open-files limit). */
  readonly routerMaxConnections: number | null;
  /** Client connections the API and dashboard accept at once. */
  readonly apiMaxConnections: number;
  /** Time a client of the router or the API has to send a request's headers. */
  readonly headersTimeoutMs: number;
}

export type DiskReserve = { readonly bytes: number } | { readonly percent: number };

/** Flag name → environment twin. */
const ENV_NAMES = {
  home: 'SLIPWAY_HOME',
  host: 'SLIPWAY_HOST',
  port: 'SLIPWAY_PORT',
  routerHost: 'SLIPWAY_ROUTER_HOST',
  routerPort: 'SLIPWAY_ROUTER_PORT',
  domain: 'SLIPWAY_DOMAIN',
  runtime: 'SLIPWAY_RUNTIME',
  router: 'SLIPWAY_ROUTER',
  routerWorkers: 'SLIPWAY_ROUTER_WORKERS',
  bootTimeout: 'SLIPWAY_BOOT_TIMEOUT',
  hookTimeout: 'SLIPWAY_HOOK_TIMEOUT',
  buildTimeout: 'SLIPWAY_BUILD_TIMEOUT',
  stopGrace: 'SLIPWAY_STOP_GRACE',
  drainTimeout: 'SLIPWAY_DRAIN_TIMEOUT',
  restartBackoff: 'SLIPWAY_RESTART_BACKOFF',
  maxBuilds: 'SLIPWAY_MAX_BUILDS',
  chaosPause: 'SLIPWAY_CHAOS_PAUSE',
  maxUpload: 'SLIPWAY_MAX_UPLOAD',
  maxUnpacked: 'SLIPWAY_MAX_UNPACKED',
  diskReserve: 'SLIPWAY_DISK_RESERVE',
  logLevel: 'SLIPWAY_LOG_LEVEL',
  githubUrl: 'SLIPWAY_GITHUB_URL',
  githubApiUrl: 'SLIPWAY_GITHUB_API_URL',
  allowPrivateFetch: 'SLIPWAY_ALLOW_PRIVATE_FETCH',
  routerMaxConnections: 'SLIPWAY_ROUTER_MAX_CONNECTIONS',
  apiMaxConnections: 'SLIPWAY_API_MAX_CONNECTIONS',
  headersTimeout: 'SLIPWAY_HEADERS_TIMEOUT',
} as const;

export type SettingsInput = Partial<Record<keyof typeof ENV_NAMES, string | number>>;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `60` (seconds), `500ms`, `30s`, `20m`, `1h` → milliseconds. */
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

// Plain parsers (no schema library): this module is on the restart path,
// where every module read delays the apps answering again.
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

const chaosPause = (v: string | number) => {
  const [step, ms] = String(v).split(':');
  if (!STEPS.includes(step as Step) || ms === undefined) {
    throw new Error(`use STEP:DURATION with a step of ${STEPS.join(', ')}`);
  }
  return { step: step as Step, ms: parseDuration(ms) };
};

/** Each setting's parser and default (`undefined`: unset unless given). */
const PARSERS = {
  home: [text, './.slipway'],
  host: [text, '127.0.0.1'],
  port: [port, 5100],
  routerHost: [text, '0.0.0.0'],
  routerPort: [port, 8080],
  domain: [dnsName, 'localhost'],
  runtime: [oneOf(RUNTIME_CHOICES), 'auto'],
  router: [oneOf(['builtin', 'nginx'] as const), 'builtin'],
  // The server process alone: on 2 cores, shared with the apps, a second process measured slower (BENCHMARKS.md).
  routerWorkers: [integer(1, 64), 1],
  bootTimeout: [parseDuration, 60_000],
  hookTimeout: [parseDuration, 20 * 60_000],
  buildTimeout: [parseDuration, 15 * 60_000],
  stopGrace: [parseDuration, 30_000],
  drainTimeout: [parseDuration, 30_000],
  restartBackoff: [parseDuration, 1000],
  maxBuilds: [integer(1, 64), 2],
  chaosPause: [chaosPause, undefined],
  maxUpload: [parseSize, 512 * 1024 ** 2],
  maxUnpacked: [parseSize, 2 * 1024 ** 3],
  diskReserve: [parseDiskReserve, { bytes: 1024 ** 3 }],
  logLevel: [oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'info'],
  githubUrl: [httpUrl, 'https://github.com'],
  githubApiUrl: [httpUrl, 'https://api.github.com'],
  allowPrivateFetch: [flag, false],
  routerMaxConnections: [integer(16, 1_000_000), undefined],
  apiMaxConnections: [integer(16, 1_000_000), 512],
  headersTimeout: [parseDuration, 30_000],
} as const satisfies Record<keyof typeof ENV_NAMES, readonly [(v: string | number) => unknown, unknown]>;

type Parsed = { [K in keyof typeof PARSERS]: ReturnType<(typeof PARSERS)[K][0]> | (typeof PARSERS)[K][1] };

export function loadSettings(
  flags: SettingsInput,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Settings {
  const parsed: Record<string, unknown> = {};
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const [parse, fallback] = PARSERS[key as keyof typeof PARSERS];
    const value = flags[key as keyof SettingsInput] ?? env[envName];
    if (value === undefined || value === '') {
      parsed[key] = fallback;
      continue;
    }
    try {
      parsed[key] = parse(value);
    } catch (err) {
      throw new SlipwayError('request.invalid', `invalid setting ${key} (${envName}): ${(err as Error).message}`);
    }
  }
  const s = parsed as Parsed;
  return Object.freeze({
    home: path.resolve(cwd, s.home),
    host: s.host,
    port: s.port,
    routerHost: s.routerHost,
    routerPort: s.routerPort,
    domain: s.domain,
    runtime: s.runtime,
    router: s.router,
    routerWorkers: s.routerWorkers,
    bootTimeoutMs: s.bootTimeout,
    hookTimeoutMs: s.hookTimeout,
    buildTimeoutMs: s.buildTimeout,
    stopGraceMs: s.stopGrace,
    drainTimeoutMs: s.drainTimeout,
    restartBackoffMs: s.restartBackoff,
    maxConcurrentBuilds: s.maxBuilds,
    chaosPause: s.chaosPause ?? null,
    maxUploadBytes: s.maxUpload,
    maxUnpackedBytes: s.maxUnpacked,
    diskReserve: s.diskReserve,
    initialToken: env.SLIPWAY_TOKEN || undefined,
    logLevel: s.logLevel,
    githubUrl: s.githubUrl,
    githubApiUrl: s.githubApiUrl,
    allowPrivateFetch: s.allowPrivateFetch,
    routerMaxConnections: s.routerMaxConnections ?? null,
    apiMaxConnections: s.apiMaxConnections,
    headersTimeoutMs: s.headersTimeout,
  });
}

/** DESIGN §2 data directory layout. */
export function dataPaths(home: string) {
  return Object.freeze({
    database: path.join(home, 'slipway.db'),
    slugs: path.join(home, 'slugs'),
    cache: path.join(home, 'cache'),
    builds: path.join(home, 'builds'),
    containers: path.join(home, 'containers'),
    deploymentLogs: path.join(home, 'logs', 'deployments'),
    appLogs: path.join(home, 'logs', 'apps'),
    repos: path.join(home, 'repos'),
    nginx: path.join(home, 'router', 'nginx'),
  });
}
export type DataPaths = ReturnType<typeof dataPaths>;
