// Which buildpacks a build runs. The first of these that names any wins:
//   1. the app's own list (`slipway buildpacks:set/add`, stored with the app);
//   2. the BUILDPACK_URL config var (Heroku's and Scalingo's);
//   3. a `.buildpacks` file in the source (one per line);
//   4. the manifest's `buildpacks` (app.json / scalingo.json);
// else none: the built-ins are detected in order and the first that detects
// the app is used. What the operator set outranks what the source says.

import { type BuildpackSpec, parseBuildpackSpec, parseBuildpacksFile } from '../core/buildpack-spec.ts';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import { readAppFile } from './read-app-files.ts';

export interface BuildpackChoice {
  /** Where the list came from, for the build log. */
  readonly origin: string;
  readonly specs: readonly BuildpackSpec[];
}

export interface ResolveInput {
  readonly buildDir: string;
  readonly appBuildpacks: readonly string[];
  readonly config: Readonly<Record<string, string>>;
  readonly manifest: ManifestScripts | null;
}

/** The configured buildpacks, or null when none are: then the built-ins are detected. */
export async function resolveBuildpacks(input: ResolveInput): Promise<BuildpackChoice | null> {
  const choice = (origin: string, list: readonly string[]): BuildpackChoice => ({
    origin,
    specs: list.map(parseBuildpackSpec),
  });
  if (input.appBuildpacks.length > 0) return choice("the app's buildpacks (slipway buildpacks)", input.appBuildpacks);
  const url = input.config.BUILDPACK_URL?.trim();
  if (url) return choice('BUILDPACK_URL', [url]);
  const file = await readAppFile(input.buildDir, '.buildpacks');
  const listed = file === null ? [] : parseBuildpacksFile(file);
  if (listed.length > 0) return choice('.buildpacks', listed);
  const declared = input.manifest?.buildpacks ?? [];
  if (declared.length > 0) return choice(`${input.manifest?.file} buildpacks`, declared);
  return null;
}
