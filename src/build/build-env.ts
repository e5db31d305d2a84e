// The environment a build runs in, made from scratch: the server's own
// variables (tokens, database URLs) never reach user code, except the few
// network settings package managers need to reach a registry from this host.
// The app's config reaches buildpacks as ENV_DIR (env-dir.ts), never here.

import { appSearchPath } from '../exec/index.ts';

/** Host settings passed through when set: proxies, extra CAs, a registry mirror. */
export const PASSTHROUGH_VARS = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'npm_config_registry',
] as const;

export interface BuildEnvOptions {
  readonly app: string;
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly sourceVersion: string | null;
}

export function buildEnv(options: BuildEnvOptions, hostEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {
    PATH: appSearchPath(options.buildDir),
    HOME: options.cacheDir,
    CI: 'true',
    APP: options.app,
  };
  if (options.sourceVersion) env.SOURCE_VERSION = options.sourceVersion;
  for (const name of PASSTHROUGH_VARS) {
    const value = hostEnv[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  return env;
}
