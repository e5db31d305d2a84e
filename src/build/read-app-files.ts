// Reads the files that describe an app (Procfile, app.json / scalingo.json,
// .buildpacks, .slugignore) from its build directory. A file that is a symlink leading
// out of the app, or not a regular file, is refused rather than read: its
// content could end up in an error message the user sees.

import fs from 'node:fs';
import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import { MANIFEST_FILES, type ManifestScripts, parseManifest } from '../core/parse-manifest.ts';
import { type Procfile, parseProcfile } from '../core/parse-procfile.ts';

/** Files up to this size are read with synchronous calls (see readAppFile). */
const SYNC_READ_MAX_BYTES = 64 * 1024;

/**
 * The file's text, or null when it does not exist. Synchronous calls for the
 * path checks and for a small file: microseconds each, where the dozen trips
 * to the thread pool the build step makes through here cost milliseconds on
 * a busy host; a big file is read asynchronously, so it never holds up the
 * event loop.
 */
export async function readAppFile(buildDir: string, name: string): Promise<string | null> {
  const file = path.join(buildDir, name);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new SlipwayError('build.failed', `${name}: cannot be read (${code ?? (err as Error).message})`);
  }
  const root = fs.realpathSync(buildDir);
  if (!real.startsWith(`${root}${path.sep}`))
    throw new SlipwayError('build.failed', `${name} is a symlink leading outside the app`);
  const stat = fs.statSync(real);
  if (!stat.isFile()) throw new SlipwayError('build.failed', `${name} is not a regular file`);
  return stat.size <= SYNC_READ_MAX_BYTES ? fs.readFileSync(real, 'utf8') : fs.promises.readFile(real, 'utf8');
}

export async function readProcfile(buildDir: string): Promise<Procfile | null> {
  const text = await readAppFile(buildDir, 'Procfile');
  return text === null ? null : parseProcfile(text);
}

/** The first manifest found, in MANIFEST_FILES order (scalingo.json wins over app.json). */
export async function readManifest(buildDir: string): Promise<ManifestScripts | null> {
  for (const file of MANIFEST_FILES) {
    const text = await readAppFile(buildDir, file);
    if (text !== null) return parseManifest(file, text);
  }
  return null;
}
