// Reads what a buildpack's `bin/release` printed: YAML with
// `default_process_types` (a map of type to command: used for the types the
// Procfile does not declare) and `config_vars` (defaults for config vars the
// app does not set). Anything else in it (`addons`) is ignored.

import { parse } from 'yaml';
import { SlipwayError } from '../core/errors.ts';

export interface ReleaseInfo {
  readonly defaultProcessTypes: Readonly<Record<string, string>>;
  readonly configVars: Readonly<Record<string, string>>;
}

const EMPTY: ReleaseInfo = { defaultProcessTypes: {}, configVars: {} };

export function readReleaseYaml(text: string, buildpack: string): ReleaseInfo {
  if (text.trim() === '') return EMPTY;
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    throw invalid(buildpack, (err as Error).message.split('\n')[0] ?? 'not YAML');
  }
  if (doc === null || doc === undefined) return EMPTY;
  if (!isMap(doc)) throw invalid(buildpack, 'expected a map at the top');
  return {
    defaultProcessTypes: stringMap(doc.default_process_types, 'default_process_types', buildpack),
    configVars: stringMap(doc.config_vars, 'config_vars', buildpack),
  };
}

function stringMap(value: unknown, field: string, buildpack: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isMap(value)) throw invalid(buildpack, `${field} is not a map`);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
    else throw invalid(buildpack, `${field}.${key} is not a string`);
  }
  return out;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(buildpack: string, why: string): SlipwayError {
  return new SlipwayError('build.failed', `buildpack ${buildpack}: bin/release printed invalid YAML (${why})`);
}
