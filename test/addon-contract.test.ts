// The add-on contract: behaviour every AddonProvider must show, against the
// real thing. The postgresql provider runs it twice: on the embedded cluster
// (its superuser, on its socket), and on "an existing server" as
// SLIPWAY_POSTGRES_URL gives it, with an admin that is no superuser (CREATEROLE
// and CREATEDB only, as a managed database's). Both on loopback, so this
// process connects as an app would. A new provider is one more call below.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { type EmbeddedCluster, openEmbeddedCluster } from '../src/addons/postgresql/embedded-cluster.ts';
import { postgresqlProvider } from '../src/addons/postgresql/postgresql-provider.ts';
import { findPostgresBin } from '../src/addons/postgresql/run-as-postgres.ts';
import type { AddonProvider } from '../src/addons/types.ts';

interface ProviderUnderTest {
  readonly provider: AddonProvider;
  /** Connects with a URL the provider handed out, as the app would; resolves the query's first value. */
  readonly tryUrl: (url: string, sql?: string) => Promise<unknown>;
  close(): Promise<void>;
}

export function addonContract(
  name: string,
  open: () => Promise<ProviderUnderTest>,
  options: { skip: string | false; closedDatabases: readonly string[] },
): void {
  const { skip } = options;
  describe(`add-on contract: ${name}`, { skip, timeout: 120_000 }, () => {
    let it: ProviderUnderTest;
    before(async () => {
      it = await open();
    });
    after(() => it?.close());

    test('provision hands out a URL the app connects with, as its own role, to its own database', async () => {
      const made = await it.provider.provision('shop', 'DATABASE');
      assert.match(made.resource, /^sw_shop_database_[0-9a-f]{6}$/);
      const url = new URL(made.url);
      assert.equal(url.username, made.resource);
      assert.equal(url.pathname, `/${made.resource}`);
      assert.ok(url.password.length >= 32, 'a long random password');
      assert.equal(await it.tryUrl(made.url, 'select current_user'), made.resource);
      await it.tryUrl(made.url, 'create table t (x int)'); // it owns its database
      const info = await it.provider.info(made.resource);
      assert.equal(info.database, made.resource);
      assert.equal(info.connection_limit, 20);
      assert.ok(Number(info.size_bytes) > 0);
    });

    test("one add-on's role reaches no other add-on's database; two of one app differ", async () => {
      const a = await it.provider.provision('app-a', 'DATABASE');
      const b = await it.provider.provision('app-a', 'ANALYTICS');
      assert.notEqual(a.resource, b.resource);
      for (const db of [b.resource, ...options.closedDatabases]) {
        const other = new URL(a.url);
        other.pathname = `/${db}`;
        await assert.rejects(it.tryUrl(other.href), /permission denied|no pg_hba.conf entry/, db);
      }
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
      await assert.rejects(it.tryUrl(made.url), /password authentication failed|does not exist/);
      await assert.rejects(it.provider.info(made.resource), { code: 'addon.not_found' });
    });
  });
}

const bin = findPostgresBin();
const missing = bin === null ? 'PostgreSQL is not installed' : false;
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
    return { provider, tryUrl: query, close: () => provider.close().then(remove) };
  },
  { skip: missing, closedDatabases: ['postgres', 'template1'] },
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
    return { provider, tryUrl: query, close: () => provider.close().then(remove) };
  },
  // `postgres` grants CONNECT to PUBLIC on a server as installed (docs/addons.md).
  { skip: missing, closedDatabases: [] },
);
