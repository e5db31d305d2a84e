// /proc/self/mountinfo, parsed: one entry per mount with the fields Slipway
// reads (where it is mounted, its file system type, its superblock options).

import { readFile } from 'node:fs/promises';

export interface MountEntry {
  readonly mountPoint: string;
  readonly fstype: string;
  readonly superOptions: readonly string[];
}

/** This process's mounts, from /proc/self/mountinfo. */
export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point mount-options [optional fields] - fstype source super-options
    const [before, after] = line.split(' - ');
    const mountPoint = before?.split(' ')[4];
    if (mountPoint === undefined || after === undefined) continue;
    const [fstype = '', , superOptions = ''] = after.split(' ');
    entries.push({ mountPoint: decodeMountPath(mountPoint), fstype, superOptions: superOptions.split(',') });
  }
  return entries;
}

// mountinfo writes space, tab, newline and backslash as \ooo.
function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
