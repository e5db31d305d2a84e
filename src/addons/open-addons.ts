// The add-on providers a server offers (docs/addons.md): PostgreSQL on the
// embedded cluster, or on the server SLIPWAY_POSTGRES_URL names. The
// embedded cluster starts with the server when it was ever initialised (an
// app may use it), else on the first `addons:create`.

import path from 'node:path';
import type { Logger } from 'pino';
import type { ListenPlan } from './postgresql/cluster-files.ts';
import { type EmbeddedCluster, openEmbeddedCluster } from './postgresql/embedded-cluster.ts';
import { postgresqlProvider } from './postgresql/postgresql-provider.ts';
import { redisInstances } from './redis/redis-instances.ts';
import { redisProvider } from './redis/redis-provider.ts';
import type { AddonProvider } from './types.ts';

export interface AddonsOptions {
  /** `<home>/addons`. */
  readonly dir: string;
  /** Where containers reach the host: the sandbox's gateway and subnet, or loopback. */
  readonly listen: ListenPlan;
  /** SLIPWAY_POSTGRES_URL: an existing server instead of the embedded cluster. */
  readonly postgresUrl: string | undefined;
  readonly logger: Logger;
  /** Lets containers reach a port of the host made after the start (a new redis server's). */
  readonly allowHostPort: (port: number) => Promise<void>;
}

export interface OpenedAddons {
  readonly providers: readonly AddonProvider[];
  /** Host TCP ports containers must be allowed to reach (the embedded cluster's). */
  readonly hostPorts: readonly number[];
  /** Starts what apps may already use; resolves when it is up. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function openAddons(options: AddonsOptions): Promise<OpenedAddons> {
  let cluster: EmbeddedCluster | null = null;
  let target: Parameters<typeof postgresqlProvider>[0]['target'];
  if (options.postgresUrl !== undefined) {
    const url = new URL(options.postgresUrl);
    const fixed = {
      adminUrl: options.postgresUrl,
      appHost: url.hostname.replace(/^\[|\]$/g, ''),
      appPort: Number(url.port || 5432),
    };
    target = async () => fixed;
  } else {
    const opened = await openEmbeddedCluster({
      dir: path.join(options.dir, 'postgresql'),
      listen: options.listen,
      logger: options.logger,
    });
    cluster = opened;
    target = async () => {
      await opened.ready();
      return { adminUrl: opened.adminUrl(), appHost: opened.host, appPort: opened.port };
    };
  }
  const postgresql = postgresqlProvider({ target });
  const servers = redisInstances({
    dir: path.join(options.dir, 'redis'),
    listen: options.listen,
    logger: options.logger,
  });
  const redis = redisProvider({ instances: servers, host: options.listen.host, allowPort: options.allowHostPort });
  return {
    providers: [postgresql, redis],
    hostPorts: [...(cluster === null ? [] : [cluster.port]), ...servers.ports()],
    async start() {
      await Promise.all([cluster?.startIfInitialised(), servers.startAll()]);
    },
    async close() {
      await postgresql.close();
      await Promise.all([cluster?.stop(), servers.stopAll()]);
    },
  };
}
