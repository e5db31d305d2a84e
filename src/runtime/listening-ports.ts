// Which TCP ports a container's processes listen on, read from /proc: the
// socket inodes of every process under `rootPid` (its descendants), matched
// against the LISTEN entries of the network namespace they live in. Used to
// tell a user whose web process listens, but not on $PORT, which port it took.
// Linux only; anything unreadable counts as no port.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const LISTEN = '0A';

export function listeningPorts(rootPid: number): number[] {
  const pids = descendants(rootPid);
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of list(`/proc/${pid}/fd`)) {
      const target = link(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target ?? '')?.[1];
      if (inode) inodes.add(inode);
    }
  }
  if (inodes.size === 0) return [];
  const ports = new Set<number>();
  // Every process of a container shares one network namespace: any of them shows its tables.
  const pid = pids.find((p) => read(`/proc/${p}/net/tcp`) !== '');
  if (pid === undefined) return [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of read(`/proc/${pid}/net/${table}`).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== LISTEN || !inodes.has(fields[9] ?? '')) continue;
      const port = Number.parseInt(fields[1]?.split(':')[1] ?? '', 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** `rootPid` and every process below it, parents first. */
function descendants(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of list('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = read(`/proc/${pid}/stat`);
    // The command name may hold spaces and parentheses: the fields after it start past the last ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)?.push(pid);
  }
  const found = [rootPid];
  for (let i = 0; i < found.length; i++) found.push(...(children.get(found[i] as number) ?? []));
  return found;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function link(file: string): string | null {
  try {
    return readlinkSync(file);
  } catch {
    return null;
  }
}
