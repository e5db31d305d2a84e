// Where the CLI finds the server: SLIPWAY_URL / SLIPWAY_TOKEN, else what
// `slipway login` stored in the user's config dir (mode 0600).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { displayUrl } from '../core/display-url.ts';
import { CliError } from './cli-error.ts';

export interface Credentials {
  readonly url: string;
  readonly token: string;
}

export function credentialsFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'slipway', 'credentials.json');
}

export function saveCredentials(env: NodeJS.ProcessEnv, credentials: Credentials): string {
  const file = credentialsFile(env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

export function loadCredentials(env: NodeJS.ProcessEnv): Credentials {
  let stored: Partial<Credentials> = {};
  const file = credentialsFile(env);
  if (fs.existsSync(file)) {
    try {
      stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      throw new CliError('cli.usage', `${file} is not valid JSON: run slipway login again`);
    }
  }
  const url = serverUrl(env.SLIPWAY_URL || stored.url || 'http://127.0.0.1:5100');
  const token = env.SLIPWAY_TOKEN || stored.token;
  if (!token) {
    throw new CliError(
      'auth.missing_token',
      'not logged in: run `slipway login --url URL --token TOKEN` or set SLIPWAY_TOKEN',
    );
  }
  return { url, token };
}

/**
 * The server's address as given (`--url`, SLIPWAY_URL), checked: http(s), and
 * no user name or password in it (the token goes apart, in a header), so that
 * no message ever shows a secret inside a URL.
 */
export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      'cli.usage',
      `${displayUrl(raw)} is not a URL: give the server's address, e.g. http://127.0.0.1:5100`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError('cli.usage', `${displayUrl(raw)}: the server's address is an http:// or https:// URL`);
  if (url.username !== '' || url.password !== '')
    throw new CliError(
      'cli.usage',
      `${displayUrl(raw)}: the server's address must not contain a user name or password; ` +
        'the API token goes in --token (or SLIPWAY_TOKEN)',
    );
  return raw.replace(/\/+$/, '');
}
