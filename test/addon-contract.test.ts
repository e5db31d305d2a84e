// The add-on contract: behaviour every AddonProvider must show, against the
// real thing. The postgresql provider runs it twice: on the embedded cluster
// (its superuser, on its socket), and on "an existing server" as
// SLIPWAY_POSTGRES_URL gives it, with an admin that is no superuser (CREATEROLE
// and CREATEDB only, as a managed database's). Both on loopback, so this
// process connects as an app would. Redis runs it with a server per add-on.
// A new provider is one more call below.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { type EmbeddedCluster, openEmbeddedCluster } from '../src/addons/postgresql/embedded-cluster.ts';
import { findPostgresBin } from '../src/addons/postgresql/find-postgres.ts';
import { postgresqlProvider } from '../src/addons/postgresql/postgresql-provider.ts';
import { redisInstances } from '../src/addons/redis/redis-instances.ts';
import { redisProvider } from '../src/addons/redis/redis-provider.ts';
import type { AddonProvider } from '../src/addons/types.ts';
import { runProcess } from '../src/exec/index.ts';

interface ProviderUnderTest {
  readonly provider: AddonProvider;
  /**
   * Connects with a URL the provider handed out, as the app would; resolves the query's first value
   * (without a query: who it is connected as), rejects when it cannot connect.
   */
  readonly tryUrl: (url: string, sql?: string) => Promise<unknown>;
  /** URLs with `a`'s credentials aimed at what `a` must not reach: `b`'s resource, the server's own. */
  readonly outOfBounds: (a: string, b: string) => string[];
  /** How a refusal of those reads. */
  readonly refusal: RegExp;
  close(): Promise<void>;
}

export function addonContract(name: string, open: () => Promise<ProviderUnderTest>, skip: string | false): void {
  describe(`add-on contract: ${name}`, { skip, timeout: 120_000 }, () => {
    let it: ProviderUnderTest;
    before(async () => {
      it = await open();
    });
    after(() => it?.close());

    test('provision hands out a URL with a long random password that the app connects with', async () => {
      const made = await it.provider.provision('shop', 'DATABASE');
      assert.match(made.resource, /^sw_shop_database_[0-9a-f]{6}$/);
      assert.ok(new URL(made.url).password.length >= 32, 'a long random password');
      assert.ok(await it.tryUrl(made.url));
      const info = await it.provider.info(made.resource);
      assert.equal(typeof info.version, 'string');
      assert.equal(typeof info.connections, 'number');
    });

    test("one add-on's credentials reach no other add-on's data nor the server's own; two of one app differ", async () => {
      const a = await it.provider.provision('app-a', 'DATABASE');
      const b = await it.provider.provision('app-a', 'ANALYTICS');
      assert.notEqual(a.resource, b.resource);
      for (const url of it.outOfBounds(a.url, b.url)) await assert.rejects(it.tryUrl(url), it.refusal, url);
    });

    test('backup then restore brings the data back exactly, owned by the app as before', async () => {
      const { provider } = it;
      if (provider.backup === undefined || provider.restore === undefined) return;
      const made = await provider.provision('kept', 'DATABASE');
      await it.tryUrl(made.url, "create table notes (body text); insert into notes values ('before')");
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-backup-')), 'b1.dump');
      await provider.backup(made.resource, file);
      assert.ok(fs.statSync(file).size > 0);
      await it.tryUrl(made.url, "insert into notes values ('after'); create table extra (x int)");
      await provider.restore(made.resource, file);
      assert.equal(await it.tryUrl(made.url, "select string_agg(body, ',') from notes"), 'before');
      assert.equal(
        await it.tryUrl(made.url, "select to_regclass('extra') is null"),
        true,
        'made after the backup: gone',
      );
      await it.tryUrl(made.url, "insert into notes values ('writable')"); // the app's role owns it again
      await assert.rejects(provider.restore(made.resource, `${file}.missing`));
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });

    test('deprovision removes database and role, and may be repeated', async () => {
      const made = await it.provider.provision('gone', 'DATABASE');
      await it.tryUrl(made.url); // a connection open meanwhile is no obstacle
      await it.provider.deprovision(made.resource);
      await it.provider.deprovision(made.resource);
      await assert.rejects(it.tryUrl(made.url));
      await assert.rejects(it.provider.info(made.resource), { code: 'addon.not_found' });
    });
  });
}

const bin = findPostgresBin();
const missing = bin === null ? 'PostgreSQL is not installed' : false;

/** A's role and password, aimed at other databases. */
const otherDatabases =
  (...extra: string[]) =>
  (a: string, b: string): string[] =>
    [new URL(b).pathname.slice(1), ...extra].map((db) => {
      const url = new URL(a);
      url.pathname = `/${db}`;
      return url.href;
    });
const pgQuery = async (url: string, sql = 'select current_user') => query(url, sql);
const quiet = pino({ level: 'silent' });

async function query(url: string, sql = 'select 1'): Promise<unknown> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const result = await client.query({ text: sql, rowMode: 'array' });
    const last = Array.isArray(result) ? result.at(-1) : result; // several statements: several results
    return last?.rows[0]?.[0];
  } finally {
    await client.end();
  }
}

/** A cluster of its own on loopback, in a temp dir, removed afterwards. */
async function loopbackCluster(): Promise<{ cluster: EmbeddedCluster; dir: string; remove: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-addon-'));
  const cluster = await openEmbeddedCluster({
    dir,
    listen: { host: '127.0.0.1', clients: '127.0.0.1/32' },
    logger: quiet,
  });
  await cluster.ready();
  return {
    cluster,
    dir,
    remove: async () => {
      await cluster.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

addonContract(
  'postgresql on the embedded cluster',
  async () => {
    const { cluster, remove } = await loopbackCluster();
    const provider = postgresqlProvider({
      target: async () => ({ adminUrl: cluster.adminUrl(), appHost: cluster.host, appPort: cluster.port }),
    });
    return {
      provider,
      tryUrl: pgQuery,
      outOfBounds: otherDatabases('postgres', 'template1'),
      refusal: /no pg_hba.conf entry/,
      close: () => provider.close().then(remove),
    };
  },
  missing,
);

addonContract(
  'postgresql on an existing server, as an admin without superuser',
  async () => {
    const { cluster, remove, dir } = await loopbackCluster();
    // A server's usual rules: any role, any database, with a password. Only the grants keep roles apart.
    fs.writeFileSync(
      path.join(dir, 'cluster', 'data', 'pg_hba.conf'),
      'local all postgres scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n',
    );
    await query(cluster.adminUrl(), 'select pg_reload_conf()');
    await query(cluster.adminUrl(), "CREATE ROLE slipway_admin LOGIN PASSWORD 'admin-secret' CREATEROLE CREATEDB");
    await query(cluster.adminUrl(), 'CREATE DATABASE slipway_admin OWNER slipway_admin');
    const provider = postgresqlProvider({
      target: async () => ({
        adminUrl: `postgres://slipway_admin:admin-secret@127.0.0.1:${cluster.port}/slipway_admin`,
        appHost: '127.0.0.1',
        appPort: cluster.port,
      }),
    });
    return {
      provider,
      tryUrl: pgQuery,
      // `postgres` grants CONNECT to PUBLIC on a server as installed (docs/addons.md): only the grants keep apps apart.
      outOfBounds: otherDatabases(),
      refusal: /permission denied for database/,
      close: () => provider.close().then(remove),
    };
  },
  missing,
);

addonContract(
  'redis, a server per add-on',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-redis-'));
    const instances = redisInstances({ dir, listen: { host: '127.0.0.1', clients: '127.0.0.1/32' }, logger: quiet });
    await instances.startAll();
    const provider = redisProvider({ instances, host: '127.0.0.1', allowPort: async () => {} });
    return {
      provider,
      tryUrl: async (url) => {
        const { out } = await redisCli(url, 'PING');
        if (out !== 'PONG') throw new Error(out);
        return out;
      },
      // A's password at B's server.
      outOfBounds: (a, b) => {
        const url = new URL(a);
        url.port = new URL(b).port;
        return [url.href];
      },
      refusal: /WRONGPASS|NOAUTH/,
      close: async () => {
        await instances.stopAll();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  fs.existsSync('/usr/bin/redis-server') ? false : 'redis-server is not installed',
);

/** redis-cli against a URL (test only: its password on the command line). */
async function redisCli(url: string, ...command: string[]): Promise<{ out: string }> {
  const out: string[] = [];
  await runProcess(['redis-cli', '--no-auth-warning', '-u', url, ...command], {
    env: { PATH: '/usr/bin:/bin' },
    timeoutMs: 10_000,
    onLine: (_stream, line) => out.push(line),
  });
  return { out: out.join('\n') };
}
