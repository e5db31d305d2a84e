// Spools an uploaded archive to disk, refusing it as soon as it passes the
// size cap (the rest of the body is never read into memory or written).

import type { Readable } from 'node:stream';
import { SlipwayError } from '../core/errors.ts';
import { spoolStream } from '../source/spool-stream.ts';

export async function receiveUpload(
  body: Readable,
  spoolDir: string,
  maxBytes: number,
  declaredLength?: number,
): Promise<string> {
  if (declaredLength !== undefined && declaredLength > maxBytes) {
    body.resume();
    throw tooLarge(maxBytes);
  }
  return spoolStream(body, {
    dir: spoolDir,
    prefix: 'upload',
    maxBytes,
    tooLarge: () => tooLarge(maxBytes),
    empty: () => new SlipwayError('source.empty', 'empty upload: send a .tar.gz of your app as the request body'),
    interrupted: (err) => new SlipwayError('request.invalid', `upload interrupted: ${(err as Error).message}`),
  });
}

function tooLarge(maxBytes: number): SlipwayError {
  return new SlipwayError(
    'source.too_large',
    `upload is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MiB`,
    {
      limit: maxBytes,
    },
  );
}
