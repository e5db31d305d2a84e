// The `redis` provider's servers (docs/addons.md, "Redis"): one redis-server
// per add-on (Redis has no databases apart worth the name: a server each keeps
// apps from reading each other's keys), with a password, append-only
// persistence, listening where containers reach the host. Like the embedded
// PostgreSQL cluster, each runs as the `redis` user in a process group of its own:
// it outlives a SIGKILL of the server, is adopted by the next start, started
// again when it dies, and stopped (SIGTERM: it saves and exits) with the server.
//
// <home>/addons/redis/<resource>/   root, 0700: instance.json { port, password }
//   server/                         the redis user's: redis.conf, appendonly files, redis.pid, redis.log

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { SlipwayError } from '../../core/errors.ts';
import { HELPER_ENV, spawnProcess } from '../../exec/index.ts';
import { freePort } from '../free-port.ts';
import type { ListenPlan } from '../postgresql/cluster-files.ts';
import { serviceRunner, serviceUser } from '../run-as-service-user.ts';

const REDIS_SERVER = '/usr/bin/redis-server';
const MOUNT_POINT = '/run/slipway-redis';
const START_TIMEOUT_MS = 20_000;

export interface RedisInstance {
  readonly port: number;
  readonly password: string;
}

export interface RedisInstances {
  /** Ports of the instances made so far (containers must be allowed to reach them). */
  ports(): number[];
  /** Starts (or adopts) every instance; then checks every few seconds that each lives. */
  startAll(): Promise<void>;
  create(resource: string): Promise<RedisInstance>;
  /** Stops it and removes its data; a resource that is gone already is not an error. */
  remove(resource: string): Promise<void>;
  get(resource: string): RedisInstance | null;
  stopAll(): Promise<void>;
}

export function redisInstances(options: {
  readonly dir: string;
  readonly listen: ListenPlan;
  readonly logger: Logger;
  readonly checkEveryMs?: number;
}): RedisInstances {
  const { dir, listen, logger } = options;
  let supervisor: NodeJS.Timeout | null = null;
  const starting = new Map<string, Promise<void>>();
  const instanceFile = (resource: string) => path.join(dir, resource, 'instance.json');
  const serverDir = (resource: string) => path.join(dir, resource, 'server');
  const resources = () => {
    try {
      return fs.readdirSync(dir).filter((name) => fs.existsSync(instanceFile(name)));
    } catch {
      return [];
    }
  };
  const get = (resource: string): RedisInstance | null => {
    try {
      return JSON.parse(fs.readFileSync(instanceFile(resource), 'utf8')) as RedisInstance;
    } catch {
      return null;
    }
  };
  const owner = () => {
    if (!fs.existsSync(REDIS_SERVER))
      throw unavailable('redis-server is not installed on this host (Debian\'s "redis-server" package)');
    const user = serviceUser('redis');
    if (user === 'missing') throw unavailable('this host has no "redis" user to run redis-server as');
    return user;
  };

  const start = async (resource: string): Promise<void> => {
    const instance = get(resource);
    if (instance === null || livePid(serverDir(resource)) !== null) return;
    const runner = serviceRunner(serverDir(resource), owner(), MOUNT_POINT);
    writeConfig(serverDir(resource), runner.dir, instance, listen.host);
    // In the foreground, in a process group of its own (not `daemonize`: exec/ ends a command's whole
    // group when it exits, which would race the daemon's setsid). It logs to its file, so it outlives
    // the server without writing to a closed pipe.
    const server = spawnProcess(runner.argv(REDIS_SERVER, [`${runner.dir}/redis.conf`]), { env: HELPER_ENV });
    const exited = server.exited.then((exit) => {
      throw new Error(`it exited (${exit.spawnError ?? exit.code ?? exit.signal})`);
    });
    exited.catch(() => {}); // after the start, the supervisor notices an exit
    try {
      await Promise.race([waitForPort(listen.host, instance.port, START_TIMEOUT_MS), exited]);
    } catch (err) {
      throw unavailable(`redis-server ${resource} did not start (see its redis.log): ${(err as Error).message}`);
    }
  };
  const startOnce = (resource: string) => {
    let pending = starting.get(resource);
    if (pending === undefined) {
      pending = start(resource).finally(() => starting.delete(resource));
      starting.set(resource, pending);
    }
    return pending;
  };

  return {
    ports: () => resources().flatMap((r) => get(r)?.port ?? []),
    get,
    async startAll() {
      await Promise.all(resources().map(startOnce));
      if (supervisor !== null) return;
      supervisor = setInterval(() => {
        for (const resource of resources()) {
          if (starting.has(resource) || livePid(serverDir(resource)) !== null) continue;
          logger.warn({ resource }, 'a redis add-on server is not running: starting it again');
          startOnce(resource).catch((err) =>
            logger.error({ err, resource }, 'could not start a redis add-on server again'),
          );
        }
      }, options.checkEveryMs ?? 2000);
      supervisor.unref();
    },
    async create(resource) {
      const user = owner();
      const instance = { port: await freePort(listen.host), password: crypto.randomBytes(24).toString('base64url') };
      fs.mkdirSync(serverDir(resource), { recursive: true, mode: 0o700 });
      fs.chmodSync(path.join(dir, resource), 0o700);
      if (user !== null) fs.chownSync(serverDir(resource), user.uid, user.gid);
      fs.writeFileSync(instanceFile(resource), JSON.stringify(instance), { mode: 0o600 });
      await startOnce(resource);
      return instance;
    },
    async remove(resource) {
      await starting.get(resource)?.catch(() => {});
      await stop(serverDir(resource));
      fs.rmSync(path.join(dir, resource), { recursive: true, force: true });
    },
    async stopAll() {
      if (supervisor !== null) clearInterval(supervisor);
      await Promise.all([...starting.values()].map((p) => p.catch(() => {})));
      await Promise.all(resources().map((r) => stop(serverDir(r))));
    },
  };
}

/** redis.conf, rewritten at each start (the listening address may have changed). */
function writeConfig(hostDir: string, seenAs: string, instance: RedisInstance, host: string): void {
  const conf = [
    '# Written by Slipway at each start (docs/addons.md); changes here are lost.',
    `bind ${host}`,
    `port ${instance.port}`,
    `requirepass ${instance.password}`,
    'daemonize no',
    `dir ${seenAs}`,
    `pidfile ${seenAs}/redis.pid`,
    `logfile ${seenAs}/redis.log`,
    'appendonly yes',
    'maxclients 200',
    '',
  ].join('\n');
  const file = path.join(hostDir, 'redis.conf');
  const { uid, gid } = fs.statSync(hostDir);
  fs.writeFileSync(file, conf, { mode: 0o600 });
  fs.chownSync(file, uid, gid);
}

function livePid(serverDir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(serverDir, 'redis.pid'), 'utf8').trim());
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server' ? pid : null;
  } catch {
    return null;
  }
}

async function stop(serverDir: string): Promise<void> {
  const pid = livePid(serverDir);
  if (pid === null) return;
  process.kill(pid, 'SIGTERM'); // redis saves and exits
  const deadline = Date.now() + 30_000;
  while (livePid(serverDir) === pid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect({ host, port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${host}:${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

function unavailable(why: string): SlipwayError {
  return new SlipwayError('addon.unavailable', `the redis add-on is not available: ${why}`);
}
