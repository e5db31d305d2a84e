// GitHub-style tarballs wrap the tree in one top directory (`owner-repo-sha/`).
// When a directory holds exactly that and nothing else, move its contents up.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Returns true when `dir` held a single directory whose contents were moved up. */
export async function unwrapSingleTopDir(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const only = entries[0];
  if (entries.length !== 1 || only === undefined || !only.isDirectory()) return false;
  // Rename first: a child may carry the top directory's own name (`app/app/`).
  const staging = path.join(dir, `.slipway-unwrap-${randomBytes(6).toString('hex')}`);
  await fs.rename(path.join(dir, only.name), staging);
  for (const name of await fs.readdir(staging)) {
    await fs.rename(path.join(staging, name), path.join(dir, name));
  }
  await fs.rmdir(staging);
  return true;
}
