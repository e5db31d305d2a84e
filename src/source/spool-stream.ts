// Writes an incoming archive (an upload, a download) to a private file in the
// spool directory, refusing it the moment it passes the size cap: the rest is
// never read into memory or written. A refused, broken or empty stream leaves
// no file behind.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { diskFull, isOutOfSpace, SlipwayError } from '../core/errors.ts';

export interface SpoolOptions {
  readonly dir: string;
  /** File name prefix: `upload`, `url`. */
  readonly prefix: string;
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
  /** The errors a user sees, in the words of the caller. */
  readonly tooLarge: () => SlipwayError;
  readonly empty: () => SlipwayError;
  readonly interrupted: (err: unknown) => SlipwayError;
}

/** The path of the spooled `.tar.gz`, owner-only. */
export async function spoolStream(source: Readable, options: SpoolOptions): Promise<string> {
  await fs.promises.mkdir(options.dir, { recursive: true, mode: 0o700 });
  const file = spoolFile(options);
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      seen += chunk.length;
      if (seen > options.maxBytes) callback(options.tooLarge());
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(source, cap, fs.createWriteStream(file, { mode: 0o600 }), { signal: options.signal });
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    if (isOutOfSpace(err)) throw diskFull('the archive');
    throw err instanceof SlipwayError ? err : options.interrupted(err);
  }
  if (seen === 0) {
    await fs.promises.rm(file, { force: true });
    throw options.empty();
  }
  return file;
}

/**
 * spoolStream for a body known to be small (an upload with a small
 * Content-Length): read into memory, then written with one synchronous call,
 * which on a busy host costs far less than a stream's trips to the thread
 * pool. Returns the bytes too, so they need not be read back.
 */
export async function spoolInMemory(source: Readable, options: SpoolOptions): Promise<{ file: string; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  let seen = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > options.maxBytes) throw options.tooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    throw err instanceof SlipwayError ? err : options.interrupted(err);
  }
  if (seen === 0) throw options.empty();
  const bytes = Buffer.concat(chunks, seen);
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const file = spoolFile(options);
  try {
    fs.writeFileSync(file, bytes, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (!isOutOfSpace(err)) throw err;
    fs.rmSync(file, { force: true }); // what part of it was written
    throw diskFull('the archive');
  }
  return { file, bytes };
}

function spoolFile(options: SpoolOptions): string {
  return path.join(options.dir, `${options.prefix}-${randomBytes(8).toString('hex')}.tar.gz`);
}
