// A container's own directory under the driver's containers directory: made
// (not recursively) when the container is, so an existing one means another
// container owns the id.

import { mkdirSync } from 'node:fs';
import path from 'node:path';

export function claimContainerDir(containersDir: string, id: string): string {
  const dir = path.join(containersDir, id);
  mkdirSync(containersDir, { recursive: true, mode: 0o700 });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`container directory ${dir} already exists`);
    throw err;
  }
  return dir;
}
