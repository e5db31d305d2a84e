// ENV_DIR of the buildpack API: one file per config var of the app (the
// config the new release will run with), named after the variable and
// holding its value. Buildpacks read it; the nodejs buildpack exports it into
// its build so that values reach bundles (VITE_*, NEXT_PUBLIC_*).

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Writes `config` into the new directory `dir` (private: it holds secrets). */
export function writeEnvDir(dir: string, config: Readonly<Record<string, string>>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [key, value] of Object.entries(config)) {
    // Config keys are checked when set (config.invalid_key); a name that could leave the folder is never written.
    if (key === '' || key === '.' || key === '..' || key.includes('/') || key.includes('\0')) continue;
    writeFileSync(path.join(dir, key), value, { mode: 0o600 });
  }
}
