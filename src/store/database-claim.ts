// One control plane per PostgreSQL database. A server's start-up takes over
// what it finds (it aborts unfinished deployments, forgets container
// records), so a second server must not run beside the first. The server
// holds a session advisory lock on a connection of its own for as long as
// its store is open; another server's claim fails, naming the holder.
//
// The database drops the lock when that connection dies: a crashed host's
// claim lapses within about 30 s (the keepalive settings below), so another
// host can take over. When the connection breaks under a running server (the
// database restarted), the server takes the claim again as soon as it can.

import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** The advisory lock key of "a Slipway server runs on this database" (any fixed 64-bit number). */
const SERVER_LOCK = '7215447315316061533';
const LOCK_APPLICATION = 'slipway server';
/** How often a server whose claim broke tries to take it again. */
const RECLAIM_EVERY_MS = 2000;

export interface ClaimOptions {
  readonly url: string;
  readonly connectTimeoutMs: number;
  /** What an operator should know: the claim broke, was taken again, or was taken by another server. */
  readonly warn?: ((message: string) => void) | undefined;
}

/** The lock's own connection, or a clear error naming the server that holds it. */
async function claimOnce(options: ClaimOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: `${LOCK_APPLICATION} on ${os.hostname()}`.slice(0, 63),
    keepAlive: true,
  });
  // Without a listener, the connection's error would end the process; 'end' follows it.
  client.on('error', () => {});
  await client.connect();
  try {
    // The database notices a vanished client within ~30 s instead of the system's 2 hours.
    await client.query('set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 4');
    const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [
      SERVER_LOCK,
    ]);
    if (rows[0]?.ok) return client;
    const holder = await client.query<{ name: string; since: string; address: string | null }>(
      `select a.application_name as name, to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as since,
              host(a.client_addr) as address
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and (l.classid::bigint << 32 | l.objid::bigint) = $1::bigint`,
      [SERVER_LOCK],
    );
    const who = holder.rows[0];
    const by =
      who === undefined ? '' : ` (${who.name}${who.address ? `, from ${who.address}` : ''}, since ${who.since})`;
    throw new ClaimTaken(
      `another Slipway server is using this database${by}: one server runs per database, stop that one first`,
    );
  } catch (err) {
    await client.end();
    throw err;
  }
}

class ClaimTaken extends Error {}

/**
 * Claims the database for this server (or fails, naming the holder) and
 * keeps the claim until the returned release is called.
 */
export async function claimDatabase(options: ClaimOptions): Promise<() => Promise<void>> {
  let released = false;
  let client = await claimOnce(options);

  const reclaim = async () => {
    options.warn?.("the connection holding this server's claim on the database broke: taking it again");
    let reported = false;
    while (!released) {
      await sleep(RECLAIM_EVERY_MS);
      if (released) return;
      try {
        client = await claimOnce(options);
        if (released) await client.end();
        else {
          watch(client);
          options.warn?.("this server's claim on the database is held again");
        }
        return;
      } catch (err) {
        // Refused connections while the database is down are expected; another holder is not.
        if (err instanceof ClaimTaken && !reported) options.warn?.(err.message);
        reported ||= err instanceof ClaimTaken;
      }
    }
  };
  const watch = (c: pg.Client) =>
    c.once('end', () => {
      if (!released) void reclaim();
    });
  watch(client);

  return async () => {
    released = true;
    await client.end();
  };
}
