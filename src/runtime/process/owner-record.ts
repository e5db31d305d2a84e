// Which process group a process-driver container is, written beside its view
// (`<containerDir>/owner`: pid and the kernel's start time of that pid), so a
// server that restarts after a crash can stop what it left running. The start
// time proves the pid was not reused by someone else's process meanwhile.

import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const FILE = 'owner';

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; null when the process is gone. */
function startTime(text: string): string | null {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

export function writeOwner(containerDir: string, pid: number): void {
  const started = startTime(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  writeFileSync(path.join(containerDir, FILE), `${pid} ${started}\n`, { mode: 0o600 });
}

/** The recorded process group when it still runs as the same process, else null. */
export async function liveOwner(containerDir: string): Promise<number | null> {
  const record = await readFile(path.join(containerDir, FILE), 'utf8').catch(() => null);
  const [pid, started] = record?.trim().split(' ') ?? [];
  if (!pid || !started || !/^\d+$/.test(pid)) return null;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && startTime(stat) === started ? Number(pid) : null;
}
