// Which postdeploy command runs, and why (DESIGN §1, step 4): the manifest's
// first-deploy script replaces the hook on the app's first successful
// deployment; otherwise the Procfile line wins over the manifest's postdeploy.

import type { ManifestScripts } from './parse-manifest.ts';

export interface HookPlan {
  readonly command: string;
  /** e.g. `Procfile`, `app.json scripts.postdeploy`, `scalingo.json scripts.first-deploy` */
  readonly source: string;
}

export interface HookInputs {
  readonly procfilePostdeploy: string | null;
  readonly manifest: ManifestScripts | null;
  readonly firstSuccessfulDeploy: boolean;
}

export function resolveHook({ procfilePostdeploy, manifest, firstSuccessfulDeploy }: HookInputs): HookPlan | null {
  if (firstSuccessfulDeploy && manifest?.firstDeploy) {
    return { command: manifest.firstDeploy, source: `${manifest.file} scripts.first-deploy` };
  }
  if (procfilePostdeploy) return { command: procfilePostdeploy, source: 'Procfile' };
  if (manifest?.postdeploy) return { command: manifest.postdeploy, source: `${manifest.file} scripts.postdeploy` };
  return null;
}
