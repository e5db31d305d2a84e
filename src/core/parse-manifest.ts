// Manifest reader (app.json / scalingo.json), as far as the deploy hook needs:
// `scripts.postdeploy` and `scripts.first-deploy`. The full schema is later work.

import { z } from 'zod';
import { SlipwayError } from './errors.ts';

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
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new SlipwayError('manifest.invalid', `${file}: not valid JSON (${(err as Error).message})`, { file });
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(root)';
    throw new SlipwayError('manifest.invalid', `${file}: ${path}: ${issue?.message ?? 'invalid'}`, { file, path });
  }
  const scripts = result.data.scripts;
  return { file, postdeploy: scripts?.postdeploy ?? null, firstDeploy: scripts?.['first-deploy'] ?? null };
}
