// The `postgresql` provider: a database and a role of its own per add-on, on
// the embedded cluster or on the server SLIPWAY_POSTGRES_URL names. The role
// logs in with a random password, has a connection limit and no rights but
// on its own database: nobody else's role may connect to that database
// (REVOKE ... FROM PUBLIC), and on the embedded cluster the client
// authentication rules let a role reach only the database of its own name.

import crypto from 'node:crypto';
import type { Pool } from 'pg';
import { SlipwayError } from '../../core/errors.ts';
import type { AddonProvider } from '../types.ts';
import { dumpDatabase, restoreDatabase } from './dump-restore.ts';

export interface PostgresTarget {
  /** A superuser (or CREATEROLE + CREATEDB) connection URL, for Slipway only. */
  readonly adminUrl: string;
  /** Host and port the apps' URLs name (where containers reach the server). */
  readonly appHost: string;
  readonly appPort: number;
}

export interface PostgresqlProviderOptions {
  /** Resolves once the server accepts connections (the embedded cluster starts on first use). */
  readonly target: () => Promise<PostgresTarget>;
  /** Connections one app role may hold at once. */
  readonly connectionLimit?: number;
}

const DEFAULT_CONNECTION_LIMIT = 20;

export function postgresqlProvider(options: PostgresqlProviderOptions): AddonProvider & { close(): Promise<void> } {
  let pool: Promise<{ pool: Pool; target: PostgresTarget }> | null = null;
  const admin = () => {
    pool ??= (async () => {
      const target = await options.target();
      const pg = (await import('pg')).default;
      const created = new pg.Pool({ connectionString: target.adminUrl, max: 2, connectionTimeoutMillis: 10_000 });
      created.on('error', () => {}); // an idle client's error: the next query reconnects
      return { pool: created, target };
    })().catch((err) => {
      pool = null;
      throw err;
    });
    return pool;
  };
  const query = async (sql: string, params: unknown[] = []) => {
    const { pool: p } = await admin();
    try {
      return await p.query(sql, params);
    } catch (err) {
      throw unreachable(err);
    }
  };

  return {
    name: 'postgresql',
    defaultAs: 'DATABASE',

    async provision(app, as) {
      const { target } = await admin();
      // Role and database share one name: lower case, a-z0-9_, at most 63 bytes; never `pg_` (reserved).
      const base = `sw_${app}_${as}`
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_')
        .slice(0, 50);
      const resource = `${base}_${crypto.randomBytes(3).toString('hex')}`;
      const password = crypto.randomBytes(24).toString('base64url');
      const name = ident(resource);
      const limit = options.connectionLimit ?? DEFAULT_CONNECTION_LIMIT;
      await query(
        `CREATE ROLE ${name} LOGIN PASSWORD '${password}' CONNECTION LIMIT ${limit} ` +
          'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
      );
      try {
        // An admin that is no superuser (CREATEROLE, CREATEDB) must be a member of a database's owner to make it.
        await query(`GRANT ${name} TO CURRENT_USER`);
        await query(`CREATE DATABASE ${name} OWNER ${name}`);
        await query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
      } catch (err) {
        await dropResource(query, resource).catch(() => {});
        throw err;
      }
      const host = target.appHost.includes(':') ? `[${target.appHost}]` : target.appHost;
      return { resource, url: `postgres://${resource}:${password}@${host}:${target.appPort}/${resource}` };
    },

    deprovision: (resource) => dropResource(query, resource),

    async info(resource) {
      const { rows } = await query(
        `SELECT pg_database_size(d.datname) AS bytes,
                (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)::int AS connections,
                r.rolconnlimit AS connection_limit,
                current_setting('server_version') AS version
           FROM pg_database d JOIN pg_roles r ON r.rolname = d.datname
          WHERE d.datname = $1`,
        [resource],
      );
      const row = rows[0];
      if (row === undefined) throw new SlipwayError('addon.not_found', `database ${resource} no longer exists`);
      return {
        database: resource,
        version: String(row.version),
        size_bytes: Number(row.bytes),
        connections: Number(row.connections),
        connection_limit: Number(row.connection_limit),
      };
    },

    async backup(resource, file, signal) {
      const { target } = await admin();
      await dumpDatabase(target.adminUrl, ident(resource).slice(1, -1), file, signal);
    },

    async restore(resource, file) {
      const { target } = await admin();
      // The database is made again, empty, so that it ends exactly as the backup (tables made since go too).
      const name = ident(resource);
      await query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await query(`CREATE DATABASE ${name} OWNER ${name}`);
      await query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
      await restoreDatabase(target.adminUrl, resource, file);
    },

    async close() {
      const current = pool;
      pool = null;
      await (await current?.catch(() => null))?.pool.end();
    },
  };
}

async function dropResource(query: (sql: string) => Promise<unknown>, resource: string): Promise<void> {
  const name = ident(resource);
  await query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await query(`DROP ROLE IF EXISTS ${name}`);
}

/** Resource names are made here (a-z0-9_ only); quoted all the same. */
function ident(name: string): string {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`not a resource name: ${name}`);
  return `"${name}"`;
}

function unreachable(err: unknown): Error {
  if (err instanceof SlipwayError) return err;
  const code = (err as { code?: string }).code;
  // Connection (08), authentication (28), resources (53) and shutdown (57) mean the server is not
  // usable; other SQLSTATEs are our own mistakes: keep them as they are.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|28|53|57)/.test(code)) return err as Error;
  return new SlipwayError(
    'addon.unavailable',
    `the PostgreSQL server cannot be reached: ${(err as Error).message ?? String(err)}`,
  );
}
