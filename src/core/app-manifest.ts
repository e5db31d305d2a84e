// The app manifest (app.json / scalingo.json, Heroku's schema), parsed in
// full, once: the deploy button reads all of it to set a new app up, the build
// derives the hook scripts and declarations from it (core/parse-manifest.ts).
// Errors name the file, the JSON path and the reason.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CONTAINER_SIZES, type ContainerSize, isContainerSize } from './container-size.ts';
import { SlipwayError } from './errors.ts';
import { validateConfigKey } from './names.ts';

export const MANIFEST_FILES = ['scalingo.json', 'app.json'] as const; // first found wins
export type ManifestFile = (typeof MANIFEST_FILES)[number];

export const GENERATORS = ['secret', 'url', 'template'] as const;
export type Generator = (typeof GENERATORS)[number];

export interface ManifestEnvVar {
  readonly description: string | null;
  /** The default value (null: none). */
  readonly value: string | null;
  readonly required: boolean;
  readonly generator: Generator | null;
  /** For `generator: "template"`: the text with %APP% and %URL% tokens. */
  readonly template: string | null;
}

export interface AppManifest {
  readonly file: ManifestFile;
  readonly name: string | null;
  readonly description: string | null;
  readonly repository: string | null;
  readonly website: string | null;
  readonly logo: string | null;
  readonly keywords: readonly string[];
  readonly env: Readonly<Record<string, ManifestEnvVar>>;
  /** Process type → quantity and size (null: keep the app's). */
  readonly formation: Readonly<Record<string, { quantity: number | null; size: ContainerSize | null }>>;
  readonly postdeploy: string | null;
  readonly firstDeploy: string | null;
  /** The buildpacks the build runs (after the app's own list, BUILDPACK_URL and `.buildpacks`: docs/buildpacks.md). */
  readonly buildpacks: readonly string[];
  /** Provisioned by the deploy button before the first deployment (docs/addons.md). */
  readonly addons: readonly ManifestAddon[];
}

/** `"postgresql"`, or `{"plan": "postgresql", "as": "DB"}`: attached as `as` (null: the provider's default name). */
export interface ManifestAddon {
  readonly plan: string;
  readonly as: string | null;
}

const text = z.string().nullish();
const script = z.string().trim().min(1, 'must not be empty').nullish();
const quantity = z.number().int('must be a whole number').min(0, 'must be 0 or more').max(100, 'must be 100 or less');

const generator = z.enum(GENERATORS, {
  error: (issue) => `unknown generator ${JSON.stringify(issue.input)} (use secret, url or template)`,
});

// A plain string is the var's value; preprocessed into the object form so that
// an error inside the object keeps its own path (a union would hide it).
const envVar = z.preprocess(
  (v) => (typeof v === 'string' ? { value: v } : v),
  z.looseObject(
    {
      description: text,
      value: text,
      required: z.boolean().nullish(),
      generator: generator.nullish(),
      template: text,
    },
    { error: 'must be a string or an object {description, value, required, generator, template}' },
  ),
);

const size = z
  .string()
  .nullish()
  .refine((v) => v == null || isContainerSize(v.toUpperCase()), {
    message: `unknown size (use ${Object.keys(CONTAINER_SIZES).join(', ')})`,
  });

const schema = z.looseObject({
  name: text,
  description: text,
  repository: text,
  website: text,
  logo: text,
  keywords: z.array(z.string()).nullish(),
  env: z.record(z.string(), envVar).nullish(),
  formation: z
    .record(z.string(), z.looseObject({ quantity: quantity.nullish(), amount: quantity.nullish(), size }))
    .nullish(),
  scripts: z.looseObject({ postdeploy: script, 'first-deploy': script }).nullish(),
  buildpacks: z
    .array(z.union([z.string().min(1), z.looseObject({ url: z.string().min(1) })], { error: 'must be a URL or {url}' }))
    .nullish(),
  addons: z
    .array(
      z.union([z.string().min(1), z.looseObject({ plan: z.string().min(1), as: z.string().min(1).nullish() })], {
        error: 'must be a plan name or {plan, as}',
      }),
    )
    .nullish(),
});

function fail(file: ManifestFile, path: string, reason: string): never {
  throw new SlipwayError('manifest.invalid', `${file}: ${path}: ${reason}`, { file, path });
}

/** Parses manifest text as JSON (a leading BOM allowed); refuses with the file name. */
export function readManifestJson(file: ManifestFile, source: string): unknown {
  try {
    return JSON.parse(source.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new SlipwayError('manifest.invalid', `${file}: not valid JSON (${(err as Error).message})`, { file });
  }
}

/** Validates `json` with `schema`; the first problem is thrown as `<file>: <json.path>: <reason>`. */
export function checkManifest<T>(file: ManifestFile, json: unknown, zodSchema: z.ZodType<T>): T {
  const result = zodSchema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  fail(file, issue?.path.length ? issue.path.join('.') : '(root)', issue?.message ?? 'invalid');
}

export function parseAppManifest(file: ManifestFile, source: string): AppManifest {
  const m = checkManifest(file, readManifestJson(file, source), schema);
  const env: Record<string, ManifestEnvVar> = {};
  for (const [key, spec] of Object.entries(m.env ?? {})) {
    try {
      validateConfigKey(key);
    } catch (err) {
      fail(file, `env.${key}`, (err as Error).message);
    }
    if (spec.generator === 'template' && !spec.template)
      fail(file, `env.${key}.template`, 'required by generator "template"');
    env[key] = {
      description: spec.description ?? null,
      value: spec.value ?? null,
      required: spec.required ?? true, // Heroku's default
      generator: spec.generator ?? null,
      template: spec.template ?? null,
    };
  }
  const formation: Record<string, { quantity: number | null; size: ContainerSize | null }> = {};
  for (const [type, spec] of Object.entries(m.formation ?? {})) {
    formation[type] = {
      quantity: spec.quantity ?? spec.amount ?? null,
      size: spec.size ? (spec.size.toUpperCase() as ContainerSize) : null,
    };
  }
  return {
    file,
    name: m.name ?? null,
    description: m.description ?? null,
    repository: m.repository ?? null,
    website: m.website ?? null,
    logo: m.logo ?? null,
    keywords: m.keywords ?? [],
    env,
    formation,
    postdeploy: m.scripts?.postdeploy ?? null,
    firstDeploy: m.scripts?.['first-deploy'] ?? null,
    buildpacks: (m.buildpacks ?? []).map((b) => (typeof b === 'string' ? b : b.url)),
    addons: (m.addons ?? []).map((a) =>
      typeof a === 'string' ? { plan: a, as: null } : { plan: a.plan, as: a.as ?? null },
    ),
  };
}

export interface NewApp {
  readonly app: string;
  /** The app's web URL (what `url` generates and %URL% becomes). */
  readonly url: string;
  /** Values the user entered; an empty string counts as not given. */
  readonly given: Readonly<Record<string, string>>;
}

/** The config vars a new app starts with: given values, else defaults, else generated; required ones must have one. */
export function resolveManifestEnv(manifest: AppManifest, target: NewApp): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(manifest.env)) {
    const given = target.given[key];
    const value = given ? given : spec.value ? spec.value : generate(spec, target);
    if (value !== null) out[key] = value;
    else if (spec.required) {
      throw new SlipwayError('config.invalid_value', `${key} is required (${manifest.file}: env.${key})`, { key });
    }
  }
  return out;
}

function generate(spec: ManifestEnvVar, target: NewApp): string | null {
  switch (spec.generator) {
    case 'secret':
      return randomBytes(32).toString('hex');
    case 'url':
      return target.url;
    case 'template':
      return (spec.template ?? '').replaceAll('%APP%', target.app).replaceAll('%URL%', target.url);
    default:
      return null;
  }
}
