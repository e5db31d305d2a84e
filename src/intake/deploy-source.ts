// The one ending every kind of source shares: the archive is checked (unless
// its fetch already did), its manifest's add-ons provisioned before a first
// deployment (provision-manifest-addons.ts), its deployment queued, where it
// came from logged;
// the file is the deployment's once queued, and removed on any failure.

import fs from 'node:fs';
import type { Deployment } from '../core/types.ts';
import type { DeployMeta } from '../pipeline/pipeline.ts';
import type { IntakeContext } from './intake-context.ts';
import { provisionManifestAddons } from './provision-manifest-addons.ts';

export interface ReadySource {
  /** The .tar.gz to deploy. */
  readonly file: string;
  /** Its bytes, when held in memory (a small upload): checked without reading the file again. */
  readonly bytes?: Buffer | null;
  /** True when it was checked on the way in (a fetch checks before unwrapping). */
  readonly checked?: boolean;
  /** One line for the deployment log ("Commit abc by ...", "Fetched URL"), or null. */
  readonly summary: string | null;
}

export async function deploySource(
  ctx: IntakeContext,
  app: string,
  source: ReadySource,
  meta: DeployMeta,
): Promise<Deployment> {
  try {
    if (!source.checked) await ctx.checkArchive(source.bytes ?? source.file);
    const notes = await provisionManifestAddons(ctx, app, source.file, meta.author ?? null);
    const deployment = await ctx.pipeline.deployArchive(app, source.file, meta);
    if (source.summary) ctx.logs.append(deployment.id, `-----> ${source.summary}`);
    for (const note of notes) ctx.logs.append(deployment.id, `-----> ${note}`);
    return deployment;
  } finally {
    await fs.promises.rm(source.file, { force: true }); // moved away when the deployment took it
  }
}
