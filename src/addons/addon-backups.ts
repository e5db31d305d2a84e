// Backups of add-ons that keep data (docs/addons.md, "Backups"): captured on
// demand or automatically before each postdeploy hook, kept as files in the
// home (the newest KEEP per app), restored on demand. A backup's file is
// `<home>/addons/backups/<app>/<id>.<NAME>.dump`; ids are `b<n>` (captured by
// a user) and `a<n>` (automatic), numbered per app.

import fs from 'node:fs';
import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import type { AddonRecord, Store } from '../store/index.ts';
import type { AddonProvider } from './types.ts';

export interface Backup {
  readonly id: string;
  /** The add-on it is of (`DATABASE`). */
  readonly addon: string;
  readonly automatic: boolean;
  readonly bytes: number;
  readonly createdAt: string;
}

/** What the deployment log says before the hook, and after it if it fails. */
export interface HookBackupNote {
  readonly taken: readonly string[];
  readonly onFailure: readonly string[];
  /** Restores the backups just taken; lines for the log. */
  readonly restore: () => Promise<readonly string[]>;
}

export interface AddonBackups {
  capture(
    app: string,
    name: string | null,
    automatic?: boolean,
    signal?: AbortSignal,
  ): Promise<{ backup: Backup; ms: number }>;
  /** Newest first. */
  list(app: string): Promise<Backup[]>;
  restore(app: string, id: string): Promise<{ backup: Backup; ms: number }>;
  /** Backs up every add-on of the app that keeps data; null when it has none. */
  beforeHook(app: string, signal: AbortSignal): Promise<HookBackupNote | null>;
  /** The app's backups go with it. */
  removeAll(app: string): Promise<void>;
}

const FILE = /^([ab])(\d+)\.([A-Z][A-Z0-9_]*)\.dump$/;
/** Backups kept per app (the oldest go first). */
export const KEEP = 10;

export function addonBackups(deps: {
  readonly store: Store;
  readonly providerOf: (plan: string) => AddonProvider;
  /** `<home>/addons/backups`. */
  readonly dir: string;
}): AddonBackups {
  const { store } = deps;
  const appDir = (app: string) => path.join(deps.dir, app);
  const read = (app: string): (Backup & { file: string; n: number })[] => {
    let names: string[];
    try {
      names = fs.readdirSync(appDir(app));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .flatMap((name) => {
        const match = FILE.exec(name);
        if (match === null) return [];
        const file = path.join(appDir(app), name);
        const stat = fs.statSync(file);
        const n = Number(match[2]);
        const addon = match[3] ?? '';
        return [
          {
            id: `${match[1]}${n}`,
            n,
            addon,
            automatic: match[1] === 'a',
            bytes: stat.size,
            createdAt: stat.mtime.toISOString(),
            file,
          },
        ];
      })
      .sort((a, b) => b.n - a.n);
  };
  const strip = ({ file: _f, n: _n, ...backup }: Backup & { file: string; n: number }): Backup => backup;
  const keeper = (addon: AddonRecord) => {
    const provider = deps.providerOf(addon.provider);
    if (provider.backup === undefined || provider.restore === undefined) return null;
    return { backup: provider.backup.bind(provider), restore: provider.restore.bind(provider) };
  };

  const capture: AddonBackups['capture'] = async (app, name, automatic = false, signal) => {
    await store.apps.require(app);
    const addons = (await store.addons.list(app)).filter((a) => keeper(a) !== null);
    const addon =
      name === null
        ? (addons.find((a) => a.name === 'DATABASE') ?? (addons.length === 1 ? addons[0] : undefined))
        : addons.find((a) => a.name === name.toUpperCase());
    if (addon === undefined)
      throw new SlipwayError(
        'addon.not_found',
        name === null
          ? `${app} has no database to back up${addons.length > 1 ? `: name one (${addons.map((a) => a.name).join(', ')})` : ''}`
          : `${app} has no database named ${name}`,
      );
    fs.mkdirSync(appDir(app), { recursive: true, mode: 0o700 });
    const tmp = path.join(appDir(app), `.capture-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const began = performance.now();
    try {
      await keeper(addon)?.backup(addon.resource, tmp, signal);
      // The next number, claimed by a hard link that fails if a concurrent capture took it.
      for (;;) {
        const n = (read(app)[0]?.n ?? 0) + 1;
        const final = path.join(appDir(app), `${automatic ? 'a' : 'b'}${n}.${addon.name}.dump`);
        try {
          fs.linkSync(tmp, final);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    const ms = Math.round(performance.now() - began);
    const all = read(app);
    for (const old of all.slice(KEEP)) fs.rmSync(old.file, { force: true });
    return { backup: strip(all[0] as Backup & { file: string; n: number }), ms };
  };

  const restore: AddonBackups['restore'] = async (app, id) => {
    await store.apps.require(app);
    const found = read(app).find((b) => b.id === id);
    if (found === undefined) throw new SlipwayError('addon.not_found', `${app} has no backup ${id}`);
    const addon = await store.addons.get(app, found.addon);
    const restorer = addon === undefined ? null : keeper(addon);
    if (addon === undefined || restorer === null)
      throw new SlipwayError('addon.not_found', `backup ${id} is of ${found.addon}, which ${app} no longer has`);
    const began = performance.now();
    await restorer.restore(addon.resource, found.file);
    return { backup: strip(found), ms: Math.round(performance.now() - began) };
  };

  return {
    capture,
    list: async (app) => {
      await store.apps.require(app);
      return read(app).map(strip);
    },
    restore,
    async beforeHook(app, signal) {
      const addons = (await store.addons.list(app)).filter((a) => keeper(a) !== null);
      if (addons.length === 0) return null;
      const taken: string[] = [];
      const onFailure: string[] = [];
      const ids: string[] = [];
      for (const addon of addons) {
        const { backup, ms } = await capture(app, addon.name, true, signal).catch((err: Error) => {
          if (signal.aborted) throw err;
          throw new SlipwayError(
            'addon.unavailable',
            `could not back up ${addon.name}_URL before the hook, so it did not run: ${err.message}`,
          );
        });
        taken.push(`${addon.name}_URL: ${formatBytes(backup.bytes)} in ${ms} ms (backup ${backup.id})`);
        ids.push(backup.id);
        onFailure.push(
          `slipway pg:backups:restore ${backup.id} --confirm ${app}   # ${addon.name}_URL as it was before the hook`,
        );
      }
      const restoreAll = async () => {
        const lines: string[] = [];
        for (const id of ids) {
          const { backup, ms } = await restore(app, id);
          lines.push(`Restored ${backup.addon}_URL from backup ${id} (taken before the hook) in ${ms} ms`);
        }
        return lines;
      };
      return { taken, onFailure, restore: restoreAll };
    },
    async removeAll(app) {
      fs.rmSync(appDir(app), { recursive: true, force: true });
    },
  };
}
