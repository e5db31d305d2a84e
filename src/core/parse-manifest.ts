// Manifest reader (app.json / scalingo.json), as far as the deploy hook needs:
// `scripts.postdeploy` and `scripts.first-deploy`, lenient about the rest. The
// full schema, for the deploy button, is core/app-manifest.ts.

import { z } from 'zod';
import { checkManifest, readManifestJson } from './app-manifest.ts';

export const MANIFEST_FILES = ['scalingo.json', 'app.json'] as const; // first found wins
export type ManifestFile = (typeof MANIFEST_FILES)[number];

export interface ManifestScripts {
  readonly file: ManifestFile;
  readonly postdeploy: string | null;
  readonly firstDeploy: string | null;
}

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
});

export function parseManifest(file: ManifestFile, text: string): ManifestScripts {
  const scripts = checkManifest(file, readManifestJson(file, text), manifestSchema).scripts;
  return { file, postdeploy: scripts?.postdeploy ?? null, firstDeploy: scripts?.['first-deploy'] ?? null };
}
