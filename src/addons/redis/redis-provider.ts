// The `redis` provider: a redis-server of its own per add-on
// (redis-instances.ts), its URL in REDIS_URL. `info` asks the server itself.

import crypto from 'node:crypto';
import { SlipwayError } from '../../core/errors.ts';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';
import type { AddonProvider } from '../types.ts';
import type { RedisInstances } from './redis-instances.ts';

export function redisProvider(options: {
  readonly instances: RedisInstances;
  /** The address containers reach the servers at. */
  readonly host: string;
  /** Lets containers reach a new server's port (the sandbox's nftables set). */
  readonly allowPort: (port: number) => Promise<void>;
}): AddonProvider {
  const { instances, host } = options;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    name: 'redis',
    defaultAs: 'REDIS',

    async provision(app, as) {
      const base = `sw_${app}_${as}`
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_')
        .slice(0, 50);
      const resource = `${base}_${crypto.randomBytes(3).toString('hex')}`;
      try {
        const instance = await instances.create(resource);
        await options.allowPort(instance.port);
        return { resource, url: `redis://default:${instance.password}@${urlHost}:${instance.port}` };
      } catch (err) {
        await instances.remove(resource).catch(() => {});
        throw err;
      }
    },

    deprovision: (resource) => instances.remove(resource),

    async info(resource) {
      const instance = instances.get(resource);
      if (instance === null) throw new SlipwayError('addon.not_found', `redis server ${resource} no longer exists`);
      let text: string;
      try {
        text = await runChecked(['redis-cli', '-h', host, '-p', String(instance.port), 'INFO'], {
          env: { ...HELPER_ENV, REDISCLI_AUTH: instance.password },
          timeoutMs: 10_000,
        });
      } catch (err) {
        throw new SlipwayError(
          'addon.unavailable',
          `redis server ${resource} does not answer: ${(err as Error).message}`,
        );
      }
      const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
      return {
        server: resource,
        version: field('redis_version'),
        used_memory_bytes: Number(field('used_memory')),
        connections: Number(field('connected_clients')),
        keys: Number(/^db0:keys=(\d+)/m.exec(text)?.[1] ?? 0),
      };
    },
  };
}
