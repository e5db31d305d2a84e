// Reads app.json / scalingo.json from the top of a fetched source archive,
// without extracting it, for the deploy button (scalingo.json wins).

import { list } from 'tar';
import { type AppManifest, parseAppManifest } from '../core/app-manifest.ts';
import { SlipwayError } from '../core/errors.ts';
import { MANIFEST_FILES, type ManifestFile } from '../core/parse-manifest.ts';

const MAX_MANIFEST_BYTES = 256 * 1024;

/** The source's manifest (null when it has none). */
export async function readSourceManifest(archive: string): Promise<AppManifest | null> {
  const found = new Map<ManifestFile, Buffer[]>();
  const fileOf = (entryPath: string) => MANIFEST_FILES.find((f) => entryPath === f || entryPath === `./${f}`);
  let tooLarge: string | null = null;
  await list({
    file: archive,
    filter: (p) => fileOf(p) !== undefined,
    onReadEntry: (entry) => {
      const file = fileOf(entry.path);
      if (!file || entry.type !== 'File') return entry.resume();
      if ((entry.size ?? 0) > MAX_MANIFEST_BYTES) {
        tooLarge = file;
        return entry.resume();
      }
      const chunks: Buffer[] = [];
      found.set(file, chunks);
      entry.on('data', (c: Buffer) => chunks.push(c));
    },
  });
  if (tooLarge) throw new SlipwayError('manifest.invalid', `${tooLarge}: over ${MAX_MANIFEST_BYTES} bytes`);
  for (const file of MANIFEST_FILES) {
    const chunks = found.get(file);
    if (chunks) return parseAppManifest(file, Buffer.concat(chunks).toString('utf8'));
  }
  return null;
}
