// CPU time of a set of processes (all their threads), from /proc: what a
// proxy spent per request during a load run, which says more than requests/s
// on a shared 2-core machine where the load generator, the backend and the
// proxy compete for the same cores. Linux only.

import fs from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; the kernel reports utime/stime in these on every Linux ABI

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, in seconds. */
  readonly cpu: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after its last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
  return {
    pid,
    ppid: Number(fields[1]),
    comm: text.slice(text.indexOf('(') + 1, close),
    cpu: ticks / TICKS_PER_SECOND,
  };
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Every process below `root` (not `root` itself) whose name or command line `match` accepts, at this moment. */
export function descendants(root: number, match: (comm: string, cmdline: string) => boolean): number[] {
  const stats = fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((s): s is Stat => s !== undefined);
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (match(child.comm, cmdline(child.pid))) found.push(child.pid);
      walk(child.pid);
    }
  };
  walk(root);
  return found;
}

/** Summed CPU seconds of the processes that still exist. */
export function cpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (readStat(pid)?.cpu ?? 0), 0);
}
