// The /etc a sandbox sees: a read-only copy of the few host files programs
// need at run time, bound as one directory. Binding each file separately cost
// bubblewrap a mount (and a mountinfo parse) per file, ~1.5 ms of every
// container start. The copy is checked against the host on every start (one
// stat per entry, plus ssl/certs, where update-ca-certificates works) and
// rebuilt when anything changed, so the sandbox never sees a stale resolv.conf.
//
// Like the bind mounts it replaces, a top-level symlink (resolv.conf →
// /run/...) is followed; symlinks inside directories (ssl/certs → /usr/share)
// stay links, resolved inside the sandbox. Nothing the app's user could not
// read on the host is copied (ssl/private).
//
// Containers have their own network namespace, where the host's loopback is
// out of reach: when the host's resolv.conf names only loopback resolvers
// (systemd-resolved's stub at 127.0.0.53), the copy takes systemd-resolved's
// list of upstream servers instead, when there is one.

import { createHash } from 'node:crypto';
import { type Stats, statSync } from 'node:fs';
import { chmod, copyFile, cp, lstat, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isLoopbackAddress, parseNameservers } from './network-plan.ts';

/** The /etc entries programs need to resolve names, verify TLS, and know users and time. */
export const ETC_ENTRIES = [
  'alternatives',
  'gai.conf',
  'group',
  'host.conf',
  'hosts',
  'ld.so.cache',
  'localtime',
  'mime.types',
  'nsswitch.conf',
  'passwd',
  'protocols',
  'resolv.conf',
  'services',
  'ssl',
  'timezone',
] as const;

/** Directories below the entries whose own changes must also be noticed. */
const WATCHED_SUBDIRS = ['ssl/certs'];

/** systemd-resolved's list of the upstream servers its 127.0.0.53 stub forwards to. */
export const UPSTREAM_RESOLV_CONF = '/run/systemd/resolve/resolv.conf';

/** Whether a resolv.conf leaves a container without a resolver it can reach (none listed means 127.0.0.1). */
export function onlyLoopbackResolvers(resolvConf: string): boolean {
  const servers = parseNameservers(resolvConf);
  return servers.every(isLoopbackAddress);
}

export interface EtcView {
  /** The directory to bind at /etc, current with the host's files. */
  current(): Promise<string>;
}

/**
 * Copies of `source`'s entries live in `root` (a root-owned directory others
 * may traverse) as `etc-<hash of what they were copied from>`. Copies are
 * never deleted while Slipway runs: a running container's /etc is one of them.
 */
export function createEtcView(
  root: string,
  source = '/etc',
  entries: readonly string[] = ETC_ENTRIES,
  upstreamResolvConf = UPSTREAM_RESOLV_CONF,
): EtcView {
  let built: { signature: string; dir: Promise<string> } | undefined;
  return {
    current() {
      const signature = hostSignature(source, entries, upstreamResolvConf);
      if (built === undefined || built.signature !== signature) {
        const dir = buildCopy(root, source, entries, signature, upstreamResolvConf);
        built = { signature, dir };
        // A failed copy is retried by the next start, not remembered.
        dir.catch(() => {
          if (built?.dir === dir) built = undefined;
        });
      }
      return built.dir;
    },
  };
}

function hostSignature(source: string, entries: readonly string[], upstreamResolvConf: string): string {
  const parts: string[] = [];
  for (const name of [
    ...entries.map((entry) => path.join(source, entry)),
    ...WATCHED_SUBDIRS.map((sub) => path.join(source, sub)),
    upstreamResolvConf,
  ]) {
    const stat = statOrUndefined(name);
    parts.push(
      stat === undefined ? `${name}:-` : `${name}:${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`,
    );
  }
  return parts.join('\n');
}

async function buildCopy(
  root: string,
  source: string,
  entries: readonly string[],
  signature: string,
  upstreamResolvConf: string,
): Promise<string> {
  const final = path.join(root, `etc-${createHash('sha256').update(signature).digest('hex').slice(0, 16)}`);
  if (await isDirectory(final)) return final;
  const work = await mkdtemp(path.join(root, '.etc-'));
  try {
    for (const name of entries) {
      const from = path.join(source, name);
      const stat = statOrUndefined(from);
      if (stat === undefined || !readableByOthers(stat)) continue;
      const to = path.join(work, name);
      if (stat.isDirectory())
        await cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, filter: copyable });
      else if (stat.isFile()) await copyFile(from, to);
      else continue;
      await chmod(to, stat.mode & 0o7777);
      if (name === 'resolv.conf') await preferUpstreamResolvers(to, upstreamResolvConf);
    }
    await chmod(work, 0o755);
    await rename(work, final);
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    // Another start built the same copy first: use it.
    if (await isDirectory(final)) return final;
    throw err;
  }
  return final;
}

/** Replaces a copied resolv.conf naming only loopback resolvers by the upstream list, when that names others. */
async function preferUpstreamResolvers(copy: string, upstreamResolvConf: string): Promise<void> {
  if (!onlyLoopbackResolvers(await readFile(copy, 'utf8'))) return;
  const upstream = await readFile(upstreamResolvConf, 'utf8').catch(() => null);
  if (upstream === null || onlyLoopbackResolvers(upstream)) return;
  await writeFile(copy, upstream);
}

function isDirectory(dir: string): Promise<boolean> {
  return lstat(dir).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}

/** stat (following links, as a bind mount does), or undefined when the entry is missing. */
function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/** Inside directories: links as they are; files and directories only when others may read them. */
async function copyable(file: string): Promise<boolean> {
  const stat = await lstat(file);
  return stat.isSymbolicLink() || readableByOthers(stat);
}

function readableByOthers(stat: Stats): boolean {
  if (stat.isDirectory()) return (stat.mode & 0o005) === 0o005;
  return (stat.mode & 0o004) !== 0;
}
