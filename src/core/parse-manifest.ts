// What a deployment needs of the manifest (app.json / scalingo.json):
// `scripts.postdeploy` and `scripts.first-deploy` for the hook, and the
// declared `buildpacks` and `addons`, recorded with the release. Derived from
// the one full parse of core/app-manifest.ts, so the build and the deploy
// button never read the same file differently.

import { type AppManifest, MANIFEST_FILES, type ManifestFile, parseAppManifest } from './app-manifest.ts';

export { MANIFEST_FILES, type ManifestFile };

export interface ManifestScripts {
  readonly file: ManifestFile;
  readonly postdeploy: string | null;
  readonly firstDeploy: string | null;
  /** Declared buildpacks (run by the build when nothing outranks them; absent in releases made before they were recorded). */
  readonly buildpacks?: readonly string[];
  /** Declared add-on plans (the deploy button provisions them when it creates the app). */
  readonly addons?: readonly string[];
  /** Declared quantities per process type: the formation of the app's first deployment. */
  readonly formation?: Readonly<Record<string, number>>;
}

export function manifestScripts(manifest: AppManifest): ManifestScripts {
  const quantities = Object.entries(manifest.formation).flatMap(([type, f]) =>
    f.quantity === null ? [] : [[type, f.quantity] as const],
  );
  return {
    file: manifest.file,
    postdeploy: manifest.postdeploy,
    firstDeploy: manifest.firstDeploy,
    ...(manifest.buildpacks.length > 0 ? { buildpacks: manifest.buildpacks } : {}),
    ...(manifest.addons.length > 0 ? { addons: manifest.addons.map((a) => a.plan) } : {}),
    ...(quantities.length > 0 ? { formation: Object.fromEntries(quantities) } : {}),
  };
}

export function parseManifest(file: ManifestFile, text: string): ManifestScripts {
  return manifestScripts(parseAppManifest(file, text));
}
