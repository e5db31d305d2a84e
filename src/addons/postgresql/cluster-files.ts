// The files of the embedded cluster that Slipway writes (the rest is
// PostgreSQL's): its settings (cluster.json: port and superuser password,
// root only), and on every start the server settings and client
// authentication rules for where the cluster listens now.
//
// Layout of <home>/addons/postgresql/ (root, 0700):
//   cluster.json     { port, password } of the superuser `postgres`
//   cluster/         owned by the postgres user, 0700 (the runner's folder)
//     data/          PGDATA
//     postgresql.log the server's log (pg_ctl -l)

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../free-port.ts';

export interface ClusterSettings {
  readonly port: number;
  readonly password: string;
}

export function clusterPaths(dir: string) {
  return {
    settings: path.join(dir, 'cluster.json'),
    cluster: path.join(dir, 'cluster'),
    data: path.join(dir, 'cluster', 'data'),
    pidFile: path.join(dir, 'cluster', 'data', 'postmaster.pid'),
    log: path.join(dir, 'cluster', 'postgresql.log'),
    /** The superuser's Unix socket (Slipway's own connections): no container sees this folder. */
    sockets: path.join(dir, 'cluster', 'run'),
  };
}

/** The cluster's port and password, chosen once (the port free on `host` now) and kept. */
export async function loadClusterSettings(dir: string, host: string): Promise<ClusterSettings> {
  const file = clusterPaths(dir).settings;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterSettings;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const settings = { port: await freePort(host), password: crypto.randomBytes(24).toString('base64url') };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(settings), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return settings;
}

export interface ListenPlan {
  /** The one address the cluster listens on: the containers' gateway, or loopback. */
  readonly host: string;
  /** Where app connections may come from (CIDR): the containers' subnet, or loopback. */
  readonly clients: string;
}

/**
 * slipway.conf (included by postgresql.conf) and pg_hba.conf, rewritten at
 * each start: the superuser only on the Unix socket (in a folder no container
 * sees), and each app's role only to the database of
 * its own name (`sameuser`), only from where containers are, with a password.
 */
export function writeServerConfig(
  dataDir: string,
  settings: ClusterSettings,
  listen: ListenPlan,
  /** The socket folder as the postgres user sees it. */
  socketDir: string,
): void {
  const conf = [
    '# Written by Slipway at each start (docs/addons.md); changes here are lost.',
    `listen_addresses = '${listen.host}'`,
    `port = ${settings.port}`,
    `unix_socket_directories = '${socketDir}'`,
    'unix_socket_permissions = 0700',
    'max_connections = 200',
    "password_encryption = 'scram-sha-256'",
    '',
  ].join('\n');
  const hba = [
    '# Written by Slipway at each start (docs/addons.md); changes here are lost.',
    'local all postgres scram-sha-256',
    'host all postgres all reject',
    `host sameuser all ${listen.clients} scram-sha-256`,
    '',
  ].join('\n');
  writeOwned(path.join(dataDir, 'slipway.conf'), conf, dataDir);
  writeOwned(path.join(dataDir, 'pg_hba.conf'), hba, dataDir);
  const main = path.join(dataDir, 'postgresql.conf');
  const text = fs.readFileSync(main, 'utf8');
  if (!text.includes("include 'slipway.conf'")) fs.appendFileSync(main, "\ninclude 'slipway.conf'\n");
}

/** Writes a file owned like `ownerOf` (the postgres user's data folder), readable by it only. */
function writeOwned(file: string, text: string, ownerOf: string): void {
  const { uid, gid } = fs.statSync(ownerOf);
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chownSync(file, uid, gid);
}
