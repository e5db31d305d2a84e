// A deployed source's manifest `addons` (docs/addons.md), for every kind of
// source (upload, URL, git push, GitHub): before an app's first deployment,
// the add-ons it lacks are provisioned, as the deploy button does, so that
// their URLs are in the first release's config and its postdeploy hook can
// initialise them. An app that already runs is left as it is: adding a
// database to a live app is a decision of its own (its config changes, its
// data starts empty), so the log names what the manifest lists and the app
// lacks, and the command that adds each. Nothing here fails a deployment: an
// add-on that cannot be made is said in the log, and the build reads the
// manifest again (and reports it if it is broken).

import type { Addon } from '../addons/addon-operations.ts';
import { SlipwayError } from '../core/errors.ts';
import type { IntakeContext } from './intake-context.ts';
import { readSourceManifest } from './read-source-manifest.ts';

/** Provisions what a first deployment needs; returns the deployment log's lines about it. */
export async function provisionManifestAddons(
  ctx: IntakeContext,
  app: string,
  archive: string,
  author: string | null,
): Promise<string[]> {
  const manifest = await readSourceManifest(archive).catch(() => null);
  if (manifest === null || manifest.addons.length === 0) return [];
  const first = (await ctx.pipeline.currentRelease(app)) === null;
  const existing = new Set((await ctx.addons.list(app)).map((addon: Addon) => addon.name));
  const notes: string[] = [];
  for (const { plan, as } of manifest.addons) {
    const command = `slipway addons:create ${plan}${as === null ? '' : ` --as ${as}`} -a ${app}`;
    let name: string;
    try {
      name = ctx.addons.check(plan, as);
    } catch (err) {
      notes.push(`${manifest.file} lists add-on ${JSON.stringify(plan)}: not provisioned: ${(err as Error).message}`);
      continue;
    }
    if (existing.has(name)) continue;
    if (!first) {
      notes.push(
        `${manifest.file} lists add-on ${plan} (${name}_URL), which ${app} lacks: NOT provisioned, since ${app} ` +
          `already runs (add-ons are made before an app's first deployment only). To add it: ${command}`,
      );
      continue;
    }
    try {
      const made = await ctx.addons.create(app, plan, as, author);
      existing.add(name);
      notes.push(
        `Provisioned ${made.addon.provider} add-on ${name} (${made.addon.configVar}) for ${manifest.file}'s addons, ` +
          `in ${made.ms} ms, before ${app}'s first deployment`,
      );
    } catch (err) {
      if (err instanceof SlipwayError && err.code === 'addon.already_exists') continue; // a concurrent deployment made it
      notes.push(
        `${manifest.file} lists add-on ${plan} (${name}): NOT provisioned: ${(err as Error).message}. ${command}`,
      );
    }
  }
  return notes;
}
