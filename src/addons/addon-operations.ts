// What the API, the dashboard and the deploy button do with add-ons
// (docs/addons.md): attach one (the provider makes it, the store records it,
// its URL becomes a config var through a config release: a zero-downtime
// restart, no hook), list them, describe one, and remove one or all of an
// app's (its data, its row and its config var).

import { SlipwayError } from '../core/errors.ts';
import type { Deployment } from '../core/types.ts';
import type { AddonRecord, Store } from '../store/index.ts';
import type { AddonProvider } from './types.ts';

export interface AddonDeps {
  readonly store: Store;
  readonly providers: readonly AddonProvider[];
  /** The pipeline's config change (a release and a restart when the app runs). */
  readonly updateConfig: (
    app: string,
    changes: Record<string, string | null>,
    author: string | null,
  ) => Promise<{ deployment: Deployment | null }>;
}

export interface Addon extends AddonRecord {
  /** The config var holding its URL: `<name>_URL`. */
  readonly configVar: string;
}

export interface AddonInfo {
  readonly addon: Addon;
  /** What the provider tells of it (PostgreSQL: version, size_bytes, connections, connection_limit). */
  readonly details: Readonly<Record<string, string | number>>;
}

export interface AddonChange {
  readonly addon: Addon;
  /** The config release rolling the change out, or null when the app has no release yet. */
  readonly deployment: Deployment | null;
  /** Milliseconds the provider took to make (or remove) it. */
  readonly ms: number;
}

export interface AddonOperations {
  readonly providers: readonly string[];
  /**
   * Checks a plan and name before anything is made (the deploy button): the attachment name
   * (`DATABASE`), else `addon.unknown_provider` or `addon.invalid_name`.
   */
  check(plan: string, as: string | null): string;
  create(app: string, plan: string, as: string | null, author: string | null): Promise<AddonChange>;
  list(app: string): Promise<Addon[]>;
  info(app: string, name: string): Promise<AddonInfo>;
  /** pg:info: each PostgreSQL database of the app (or the one named), with its size, connections and version. */
  databases(app: string, name?: string): Promise<AddonInfo[]>;
  destroy(app: string, name: string, author: string | null): Promise<AddonChange>;
  /** Removes every add-on's resource of an app about to be destroyed (its rows go with the app). */
  destroyAll(app: string): Promise<void>;
}

const ATTACHMENT = /^[A-Z][A-Z0-9_]{0,39}$/;

/** `postgresql`, or a manifest's plan as Heroku and Scalingo spell it: `heroku-postgresql:mini`. */
export function findProvider(providers: readonly AddonProvider[], plan: string): AddonProvider {
  const name = (plan.split(':')[0] ?? '').replace(/^(heroku|scalingo)-/, '');
  const provider = providers.find((p) => p.name === name);
  if (provider === undefined)
    throw new SlipwayError(
      'addon.unknown_provider',
      `unknown add-on "${plan}": available are ${providers.map((p) => p.name).join(', ') || 'none'}`,
    );
  return provider;
}

export function addonOperations(deps: AddonDeps): AddonOperations {
  const { store } = deps;
  const providerOf = (plan: string) => findProvider(deps.providers, plan);
  const attachmentName = (provider: AddonProvider, as: string | null) => {
    const name = (as ?? provider.defaultAs).toUpperCase();
    if (!ATTACHMENT.test(name))
      throw new SlipwayError(
        'addon.invalid_name',
        `invalid add-on name ${JSON.stringify(as)}: a letter, then letters, digits or _ (at most 40), e.g. DATABASE`,
      );
    return name;
  };
  const withVar = (record: AddonRecord): Addon => ({ ...record, configVar: `${record.name}_URL` });
  const requireAddon = async (app: string, name: string) => {
    await store.apps.require(app);
    const record = await store.addons.get(app, name.toUpperCase());
    if (record === undefined) throw new SlipwayError('addon.not_found', `${app} has no add-on named ${name}`);
    return withVar(record);
  };

  return {
    providers: deps.providers.map((p) => p.name),

    check: (plan, as) => attachmentName(providerOf(plan), as),

    async create(app, plan, as, author) {
      await store.apps.require(app);
      const provider = providerOf(plan);
      const name = attachmentName(provider, as);
      const configVar = `${name}_URL`;
      if ((await store.addons.get(app, name)) !== undefined)
        throw new SlipwayError('addon.already_exists', `${app} already has an add-on named ${name} (${configVar})`);
      if (configVar in (await store.config.get(app)))
        throw new SlipwayError(
          'addon.config_var_taken',
          `${app} already has a config var ${configVar}: unset it first, or attach the add-on under another name (--as)`,
        );
      const began = performance.now();
      const made = await provider.provision(app, name);
      const ms = Math.round(performance.now() - began);
      let record: AddonRecord;
      try {
        record = await store.addons.add({ app, name, provider: provider.name, resource: made.resource });
      } catch (err) {
        await provider.deprovision(made.resource); // a concurrent create took the name, or the app went
        throw err;
      }
      const { deployment } = await deps.updateConfig(app, { [configVar]: made.url }, author);
      return { addon: withVar(record), deployment, ms };
    },

    async list(app) {
      await store.apps.require(app);
      return (await store.addons.list(app)).map(withVar);
    },

    async info(app, name) {
      const addon = await requireAddon(app, name);
      return { addon, details: await providerOf(addon.provider).info(addon.resource) };
    },

    async databases(app, name) {
      if (name !== undefined) {
        const addon = await requireAddon(app, name);
        if (addon.provider !== 'postgresql')
          throw new SlipwayError(
            'addon.not_found',
            `${addon.name} of ${app} is a ${addon.provider} add-on, not a PostgreSQL database`,
          );
        return [{ addon, details: await providerOf(addon.provider).info(addon.resource) }];
      }
      await store.apps.require(app);
      const addons = (await store.addons.list(app)).filter((a) => a.provider === 'postgresql').map(withVar);
      if (addons.length === 0)
        throw new SlipwayError(
          'addon.not_found',
          `${app} has no PostgreSQL database: add one with \`slipway addons:create postgresql\``,
        );
      return Promise.all(
        addons.map(async (addon) => ({ addon, details: await providerOf(addon.provider).info(addon.resource) })),
      );
    },

    async destroy(app, name, author) {
      const addon = await requireAddon(app, name);
      const began = performance.now();
      await providerOf(addon.provider).deprovision(addon.resource);
      const ms = Math.round(performance.now() - began);
      await store.addons.remove(app, addon.name);
      const config = await store.config.get(app);
      const { deployment } =
        addon.configVar in config
          ? await deps.updateConfig(app, { [addon.configVar]: null }, author)
          : { deployment: null };
      return { addon, deployment, ms };
    },

    async destroyAll(app) {
      for (const addon of await store.addons.list(app)) await providerOf(addon.provider).deprovision(addon.resource);
    },
  };
}
