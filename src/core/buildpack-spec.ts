// What names a buildpack: a built-in by name (`nodejs`, or Heroku's and
// Scalingo's `heroku/nodejs` style), a git URL with an optional `#ref`
// (branch, tag or commit), or a local folder (absolute path or file://,
// usable only when the server allows it). Pure: checks the form only.

import { SlipwayError } from './errors.ts';

/** The built-in buildpacks, in the order they are detected when an app configures none. */
export const BUILTIN_BUILDPACKS = ['nodejs', 'static', 'inline', 'procfile'] as const;
export type BuiltinBuildpack = (typeof BUILTIN_BUILDPACKS)[number];

export type BuildpackSpec =
  | { readonly kind: 'builtin'; readonly name: BuiltinBuildpack; readonly text: string }
  | { readonly kind: 'git'; readonly url: string; readonly ref: string | null; readonly text: string }
  | { readonly kind: 'local'; readonly path: string; readonly text: string };

/** Prefixes of names that mean a built-in elsewhere: `heroku/nodejs`, `scalingo/nodejs`. */
const ALIAS_PREFIXES = ['heroku/', 'scalingo/', 'slipway/'];
const MAX_LENGTH = 2048;

export function parseBuildpackSpec(input: string): BuildpackSpec {
  const text = input.trim();
  if (text === '' || text.length > MAX_LENGTH || /[\s\0]/.test(text)) {
    throw invalid(input, 'expected a built-in name, a git URL or a folder');
  }
  if (text.startsWith('/') || text.startsWith('file://')) {
    const folder = text.startsWith('file://') ? decodeURIComponent(text.slice('file://'.length)) : text;
    if (!folder.startsWith('/') || folder.split('/').includes('..'))
      throw invalid(input, 'a folder must be an absolute path');
    return { kind: 'local', path: folder, text };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return parseGitUrl(text, input);
  const prefix = ALIAS_PREFIXES.find((p) => text.startsWith(p));
  const name = prefix === undefined ? text : text.slice(prefix.length);
  if ((BUILTIN_BUILDPACKS as readonly string[]).includes(name)) {
    return { kind: 'builtin', name: name as BuiltinBuildpack, text };
  }
  throw invalid(input, `no such built-in buildpack (built-ins: ${BUILTIN_BUILDPACKS.join(', ')})`);
}

function parseGitUrl(text: string, input: string): BuildpackSpec {
  const hash = text.indexOf('#');
  const base = hash === -1 ? text : text.slice(0, hash);
  const ref = hash === -1 ? null : text.slice(hash + 1);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw invalid(input, 'not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(input, 'only http and https git URLs');
  if (url.username !== '' || url.password !== '') throw invalid(input, 'credentials in the URL are not accepted');
  if (ref !== null && !/^(?!-)[A-Za-z0-9._/-]{1,200}$/.test(ref)) throw invalid(input, `invalid ref "${ref}"`);
  if (ref?.includes('..')) throw invalid(input, `invalid ref "${ref}"`);
  return { kind: 'git', url: url.href, ref: ref === null || ref === '' ? null : ref, text };
}

function invalid(input: string, why: string): SlipwayError {
  return new SlipwayError('buildpack.invalid', `buildpack ${JSON.stringify(input.slice(0, 200))}: ${why}`);
}

/** The lines of a `.buildpacks` file: one buildpack per line; blank lines and `#` comments skipped. */
export function parseBuildpacksFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
