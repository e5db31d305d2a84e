// Manifest reader (app.json / scalingo.json), as far as a deployment needs:
// `scripts.postdeploy` and `scripts.first-deploy` for the hook, and the
// declared `buildpacks` and `addons`, recorded with the release (Slipway's
// builder runs no buildpacks and provisions no add-ons yet). Lenient about the
// rest. The full schema, for the deploy button, is core/app-manifest.ts.

import { z } from 'zod';
import { checkManifest, readManifestJson } from './app-manifest.ts';

export const MANIFEST_FILES = ['scalingo.json', 'app.json'] as const; // first found wins
export type ManifestFile = (typeof MANIFEST_FILES)[number];

export interface ManifestScripts {
  readonly file: ManifestFile;
  readonly postdeploy: string | null;
  readonly firstDeploy: string | null;
  /** Declared buildpack URLs (recorded; absent in releases made before they were). */
  readonly buildpacks?: readonly string[];
  /** Declared add-on plans (recorded, not provisioned). */
  readonly addons?: readonly string[];
}

/** `"x"` or `{url: "x"}` / `{plan: "x"}` entries, as app.json allows. */
const named = (key: 'url' | 'plan') =>
  z
    .array(z.union([z.string().min(1), z.looseObject({ [key]: z.string().min(1) })]))
    .nullish()
    .transform((list) => (list ?? []).map((e) => (typeof e === 'string' ? e : String(e[key]))));

const scriptValue = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .nullish()
  .transform((v) => v ?? null);

const manifestSchema = z.looseObject({
  scripts: z
    .looseObject({
      postdeploy: scriptValue,
      'first-deploy': scriptValue,
    })
    .nullish(),
  buildpacks: named('url'),
  addons: named('plan'),
});

export function parseManifest(file: ManifestFile, text: string): ManifestScripts {
  const manifest = checkManifest(file, readManifestJson(file, text), manifestSchema);
  const scripts = manifest.scripts;
  return {
    file,
    postdeploy: scripts?.postdeploy ?? null,
    firstDeploy: scripts?.['first-deploy'] ?? null,
    ...(manifest.buildpacks.length > 0 ? { buildpacks: manifest.buildpacks } : {}),
    ...(manifest.addons.length > 0 ? { addons: manifest.addons } : {}),
  };
}
