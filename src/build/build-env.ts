// The environment a build runs in, made from scratch: the server's own
// variables (tokens, database URLs) never reach user code, except the few
// network settings npm needs to reach a registry from this host.

import path from 'node:path';
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
    npm_config_cache: path.join(options.cacheDir, 'npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
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
