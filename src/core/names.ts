// Name rules shared by the API, the CLI and the pipeline.

import { SlipwayError } from './errors.ts';

// Heroku-style app names: they become DNS labels (<app>.<domain>), directory
// names and process labels, so they are deliberately narrow.
const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;

export function validateAppName(name: unknown): string {
  if (typeof name !== 'string' || !APP_NAME.test(name) || name.includes('--')) {
    throw new SlipwayError(
      'app.invalid_name',
      `invalid app name ${JSON.stringify(name)}: use 3 to 30 lowercase letters, digits and single dashes, starting with a letter and not ending with a dash`,
    );
  }
  return name;
}

// Config var keys are POSIX shell variable names, so `$KEY` works in hooks.
const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_CONFIG_VALUE_BYTES = 32 * 1024;

export function validateConfigKey(key: string): string {
  if (!CONFIG_KEY.test(key) || key.length > 255) {
    throw new SlipwayError(
      'config.invalid_key',
      `invalid config var name ${JSON.stringify(key)}: use letters, digits and underscores, not starting with a digit`,
    );
  }
  return key;
}

export function validateConfigValue(key: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new SlipwayError('config.invalid_value', `value of ${key} must be a string`);
  }
  if (value.includes('\0')) {
    throw new SlipwayError('config.invalid_value', `value of ${key} must not contain NUL bytes`);
  }
  if (Buffer.byteLength(value) > MAX_CONFIG_VALUE_BYTES) {
    throw new SlipwayError('config.invalid_value', `value of ${key} is over ${MAX_CONFIG_VALUE_BYTES} bytes`);
  }
  return value;
}

// Custom domains: a DNS hostname of at least two labels, lowercase, no
// wildcard, no port, no trailing dot, not an IP address. `platformDomain` hostnames are the
// apps' own (`<app>.localhost`), so they cannot be claimed as custom domains.
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateHostname(value: unknown, platformDomain: string): string {
  const host = typeof value === 'string' ? value.trim().toLowerCase() : '';
  const labels = host.split('.');
  if (host.length === 0 || host.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    throw new SlipwayError(
      'domain.invalid',
      `invalid hostname ${JSON.stringify(value)}: use a DNS name such as www.example.com (no scheme, port or wildcard)`,
    );
  }
  // No top-level domain is all digits (RFC 3696 §2): such a name is an IPv4 address, which no
  // certificate authority validates and a Host header names only when no domain was used.
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw new SlipwayError(
      'domain.invalid',
      `${host} is an IP address, not a domain name: a custom domain is a DNS name such as www.example.com`,
    );
  }
  if (host === platformDomain || host.endsWith(`.${platformDomain}`)) {
    throw new SlipwayError('domain.invalid', `${host} is under Slipway's own domain ${platformDomain}`);
  }
  return host;
}
