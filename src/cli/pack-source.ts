// Packs a directory into a temporary .tar.gz for upload, leaving out what
// never belongs in a build: VCS metadata, installed dependencies and a local
// Slipway data directory. Uploads go with a Content-Length, so the server can
// refuse an oversized one before reading it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { create } from 'tar';
import { CliError } from './cli-error.ts';

const EXCLUDED_TOP = new Set(['.git', 'node_modules', '.slipway']);

export interface Archive {
  readonly stream: Readable;
  readonly size: number;
  /** Removes the temporary file, when there is one. */
  cleanup(): void;
}

export async function packDirectory(dir: string): Promise<Archive> {
  const entries = fs.readdirSync(dir).filter((name) => !EXCLUDED_TOP.has(name));
  if (entries.length === 0) throw new CliError('source.empty', `${dir} has nothing to deploy`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-upload-'));
  const file = path.join(tmp, 'source.tar.gz');
  await create({ gzip: true, cwd: dir, portable: true, file }, entries);
  return { ...openArchive(file), cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

export function openArchive(file: string): Archive {
  if (!/\.(tar\.gz|tgz)$/.test(file)) {
    throw new CliError('cli.usage', `${file}: expected a directory or a .tar.gz / .tgz archive`);
  }
  return { stream: fs.createReadStream(file), size: fs.statSync(file).size, cleanup: () => {} };
}
