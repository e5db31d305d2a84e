// Server settings: read once from flags, then SLIPWAY_* environment variables,
// then defaults; validated and frozen, then passed down. Nothing else in the
// server reads process.env.

import path from 'node:path';
import { z } from 'zod';
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
  /** Token used as the admin token at first start (automation); never stored in clear. */
  readonly initialToken: string | undefined;
  readonly logLevel: string;
  /** GitHub (or GitHub Enterprise) web URL: repositories are fetched from `<githubUrl>/<owner>/<repo>.git`. */
  readonly githubUrl: string;
  /** GitHub API base URL, for commit statuses. */
  readonly githubApiUrl: string;
}

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
  logLevel: 'SLIPWAY_LOG_LEVEL',
  githubUrl: 'SLIPWAY_GITHUB_URL',
  githubApiUrl: 'SLIPWAY_GITHUB_API_URL',
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

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const port = z.coerce.number().int().min(0).max(65535);
const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/i, 'must be an http(s) URL')
  .transform((u) => u.replace(/\/+$/, ''));

const schema = z.object({
  home: z.string().min(1).default('./.slipway'),
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(5100),
  routerHost: z.string().min(1).default('0.0.0.0'),
  routerPort: port.default(8080),
  domain: z
    .string()
    .regex(/^[a-z0-9.-]+$/i, 'must be a DNS name')
    .transform((d) => d.toLowerCase().replace(/^\.+|\.+$/g, ''))
    .default('localhost'),
  runtime: z.enum(RUNTIME_CHOICES).default('auto'),
  router: z.enum(['builtin', 'nginx']).default('builtin'),
  bootTimeout: duration.default(60_000),
  hookTimeout: duration.default(20 * 60_000),
  buildTimeout: duration.default(15 * 60_000),
  stopGrace: duration.default(30_000),
  drainTimeout: duration.default(30_000),
  restartBackoff: duration.default(1000),
  maxBuilds: z.coerce.number().int().min(1).max(64).default(2),
  chaosPause: z
    .string()
    .transform((v, ctx) => {
      const [step, ms] = v.split(':');
      if (!STEPS.includes(step as Step) || ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `use STEP:DURATION with a step of ${STEPS.join(', ')}` });
        return z.NEVER;
      }
      return { step: step as Step, ms: parseDuration(ms) };
    })
    .optional(),
  maxUpload: size.default(512 * 1024 ** 2),
  maxUnpacked: size.default(2 * 1024 ** 3),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  githubUrl: httpUrl.default('https://github.com'),
  githubApiUrl: httpUrl.default('https://api.github.com'),
});

export function loadSettings(
  flags: SettingsInput,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Settings {
  const merged: Record<string, unknown> = {};
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const value = flags[key as keyof SettingsInput] ?? env[envName];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    const envName = ENV_NAMES[key as keyof typeof ENV_NAMES] ?? key;
    throw new SlipwayError('request.invalid', `invalid setting ${key} (${envName}): ${issue?.message ?? 'invalid'}`);
  }
  const s = result.data;
  return Object.freeze({
    home: path.resolve(cwd, s.home),
    host: s.host,
    port: s.port,
    routerHost: s.routerHost,
    routerPort: s.routerPort,
    domain: s.domain,
    runtime: s.runtime,
    router: s.router,
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
    initialToken: env.SLIPWAY_TOKEN || undefined,
    logLevel: s.logLevel,
    githubUrl: s.githubUrl,
    githubApiUrl: s.githubApiUrl,
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
