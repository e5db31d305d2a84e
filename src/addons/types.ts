// The add-on seam (docs/addons.md): one provider per folder (postgresql/),
// each a small contract that addon-operations.ts drives. A provider owns its
// resources (a database and its role); the store records which app has which.

export interface ProvisionedAddon {
  /** The provider's own name for what it made, kept to remove it later. */
  readonly resource: string;
  /** What the app connects with: the value of `<NAME>_URL`. */
  readonly url: string;
}

export interface AddonProvider {
  /** As users type it: `slipway addons:create postgresql`. */
  readonly name: string;
  /** The name an add-on is attached as by default: `DATABASE` sets `DATABASE_URL`. */
  readonly defaultAs: string;
  /** Makes the resource for one attachment of one app. Throws `addon.unavailable` when it cannot. */
  provision(app: string, as: string): Promise<ProvisionedAddon>;
  /** Removes the resource and all its data; removing one that is gone already is not an error. */
  deprovision(resource: string): Promise<void>;
  /** Facts about it for `addons:info` (size, connections, version). */
  info(resource: string): Promise<Readonly<Record<string, string | number>>>;
  /** Writes a backup of its data into `file` (providers that keep data: pg_dump's custom format). */
  backup?(resource: string, file: string, signal?: AbortSignal): Promise<void>;
  /** Replaces its data with a backup's. */
  restore?(resource: string, file: string): Promise<void>;
}
