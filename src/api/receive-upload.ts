// Spools an uploaded archive to disk, refusing it as soon as it passes the
// size cap (the rest of the body is never read into memory or written).

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SlipwayError } from '../core/errors.ts';

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
  await fs.promises.mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const file = path.join(spoolDir, `upload-${randomBytes(8).toString('hex')}.tar.gz`);
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(tooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(body, limiter, fs.createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    if (err instanceof SlipwayError) throw err;
    throw new SlipwayError('request.invalid', `upload interrupted: ${(err as Error).message}`);
  }
  if (seen === 0) {
    await fs.promises.rm(file, { force: true });
    throw new SlipwayError('source.empty', 'empty upload: send a .tar.gz of your app as the request body');
  }
  return file;
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
