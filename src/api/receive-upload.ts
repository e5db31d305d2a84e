// Spools an uploaded archive to disk, refusing it as soon as it passes the
// size cap (the rest of the body is never read into memory or written). A
// small upload (by its Content-Length) is held in memory and written at once.

import type { Readable } from 'node:stream';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import { type SpoolOptions, spoolInMemory, spoolStream } from '../source/spool-stream.ts';

/** Uploads declaring at most this many bytes are read into memory (spoolInMemory). */
const SMALL_UPLOAD_BYTES = 64 * 1024;

export interface ReceivedUpload {
  /** The spooled archive. */
  readonly file: string;
  /** Its bytes as well, for a small upload: checks need not read the file back. */
  readonly bytes: Buffer | null;
}

export async function receiveUpload(
  body: Readable,
  spoolDir: string,
  maxBytes: number,
  declaredLength?: number,
): Promise<ReceivedUpload> {
  if (declaredLength !== undefined && declaredLength > maxBytes) {
    body.resume();
    throw tooLarge(maxBytes);
  }
  const options: SpoolOptions = {
    dir: spoolDir,
    prefix: 'upload',
    maxBytes,
    tooLarge: () => tooLarge(maxBytes),
    empty: () => new SlipwayError('source.empty', 'empty upload: send a .tar.gz of your app as the request body'),
    interrupted: (err) => new SlipwayError('request.invalid', `upload interrupted: ${(err as Error).message}`),
  };
  if (declaredLength !== undefined && declaredLength <= SMALL_UPLOAD_BYTES) return spoolInMemory(body, options);
  return { file: await spoolStream(body, options), bytes: null };
}

function tooLarge(maxBytes: number): SlipwayError {
  return new SlipwayError('source.too_large', `upload is larger than the limit of ${formatBytes(maxBytes)}`, {
    limit: maxBytes,
  });
}
