// Packs a directory into a temporary .tar.gz for upload: the files
// select-source-files.ts chooses (as git would, or .slugignore'd), and
// nothing else. Uploads go with a Content-Length, so the server can refuse an
// oversized one before reading it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { create } from 'tar';
import { CliError } from './cli-error.ts';
import { type SourceSelection, selectSourceFiles } from './select-source-files.ts';

export interface Archive {
  /** Opens the file for reading, when the upload starts (not before: it may never start). */
  open(): Readable;
  readonly size: number;
  /** Removes the temporary file, when there is one. */
  cleanup(): void;
}

export interface PackedDirectory extends Archive {
  /** What was chosen, and how (see select-source-files.ts). */
  readonly selection: SourceSelection;
}

/** Packs what `selectSourceFiles` chooses; nothing is left on disk when it fails. */
export async function packDirectory(dir: string, env: NodeJS.ProcessEnv): Promise<PackedDirectory> {
  const selection = await selectSourceFiles(dir, env);
  if (selection.files === 0) throw new CliError('source.empty', `${dir} has nothing to deploy`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-upload-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  const file = path.join(tmp, 'source.tar.gz');
  try {
    // `./` first: node-tar reads a leading `@` as "add the entries of this archive" (`@types/`).
    // Directories stand for themselves: the selection already lists what is inside them.
    // Strict: an unreadable file fails the pack rather than going missing from it.
    const entries = selection.entries.map((rel) => `./${rel}`);
    await create({ gzip: true, cwd: dir, portable: true, noDirRecurse: true, strict: true, file }, entries);
  } catch (err) {
    cleanup();
    throw new CliError('source.unreadable', `cannot pack ${dir}: ${(err as Error).message}`);
  }
  return { ...openArchive(file), cleanup, selection };
}

export function openArchive(file: string): Archive {
  if (!/\.(tar\.gz|tgz)$/.test(file)) {
    throw new CliError('cli.usage', `${file}: expected a directory or a .tar.gz / .tgz archive`);
  }
  return { open: () => fs.createReadStream(file), size: fs.statSync(file).size, cleanup: () => {} };
}
