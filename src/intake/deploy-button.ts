// The deploy button's intake: a source URL is fetched with its manifest
// (app.json / scalingo.json) so that the form can be shown; then a new app is
// made from it (its env resolved, generated values included, checked before
// anything exists; its formation and size), and the source deployed.

import fs from 'node:fs';
import { type AppManifest, type ManifestAddon, resolveManifestEnv } from '../core/app-manifest.ts';
import { SlipwayError } from '../core/errors.ts';
import { validateAppName, validateConfigValue } from '../core/names.ts';
import type { Deployment } from '../core/types.ts';
import { type FetchedSource, fetchSource } from '../source/fetch-source.ts';
import { parseSourceUrl } from '../source/fetch-url.ts';
import { deploySource } from './deploy-source.ts';
import type { IntakeContext } from './intake-context.ts';
import { readSourceManifest } from './read-source-manifest.ts';

export interface ButtonSource extends FetchedSource {
  readonly manifest: AppManifest | null;
}

export interface ButtonPlan {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly addons: readonly ManifestAddon[];
}

/** Fetches a source (checked like an upload) and reads its manifest; the file is the caller's. */
export async function fetchWithManifest(ctx: IntakeContext, source: string, ref: string | null): Promise<ButtonSource> {
  const fetched = await fetchSource({
    url: parseSourceUrl(source),
    ref,
    spoolDir: ctx.spoolDir,
    limits: ctx.fetchLimits,
    checkArchive: ctx.checkArchive,
  });
  try {
    return { ...fetched, manifest: await readSourceManifest(fetched.file) };
  } catch (err) {
    await fs.promises.rm(fetched.file, { force: true });
    throw err;
  }
}

/**
 * The app's name and env as the form gave them, checked and resolved before
 * anything is made (a SlipwayError the form can show).
 */
export function planButtonApp(
  ctx: IntakeContext,
  manifest: AppManifest | null,
  form: { readonly name: string; readonly given: Readonly<Record<string, string>> },
): ButtonPlan {
  const name = validateAppName(form.name.trim());
  const env = manifest ? resolveManifestEnv(manifest, { app: name, url: ctx.webUrl(name), given: form.given }) : {};
  for (const [key, value] of Object.entries(env)) validateConfigValue(key, value);
  const addons = manifest?.addons ?? [];
  addons.forEach(({ plan, as }, i) => {
    try {
      ctx.addons.check(plan, as);
    } catch (err) {
      throw new SlipwayError('manifest.invalid', `${manifest?.file}: addons.${i}: ${(err as Error).message}`);
    }
  });
  return { name, env, addons };
}

/**
 * Makes the app (`app.already_exists` when taken), provisions its manifest's add-ons (their URLs are
 * config before the first deployment, so its hook can initialise them), sets its env, formation
 * and size, deploys the source.
 */
export async function deployFromButton(
  ctx: IntakeContext,
  plan: ButtonPlan,
  source: ButtonSource,
  author: string | null,
): Promise<Deployment> {
  try {
    const { name, env } = plan;
    await ctx.pipeline.createApp(name);
    for (const addon of plan.addons) await ctx.addons.create(name, addon.plan, addon.as, author);
    if (Object.keys(env).length > 0) await ctx.pipeline.updateConfig(name, env, author);
    const formation = source.manifest?.formation ?? {};
    await ctx.pipeline.setFormation(
      name,
      Object.fromEntries(
        Object.entries(formation).flatMap(([type, f]) => (f.quantity === null ? [] : [[type, f.quantity]])),
      ),
    );
    // One size per app: the web process's, else the first one given.
    const size = formation.web?.size ?? Object.values(formation).find((f) => f.size)?.size;
    if (size) await ctx.pipeline.updateApp(name, { containerSize: size });
    return await deploySource(
      ctx,
      name,
      { file: source.file, checked: true, summary: source.summary },
      { source: 'url', commitSha: source.commitSha, gitRef: source.gitRef, author },
    );
  } finally {
    await fs.promises.rm(source.file, { force: true }); // moved away when the deployment took it
  }
}
