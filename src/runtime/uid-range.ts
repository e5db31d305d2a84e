// Which uids a Slipway home gives its apps. The sandbox runs each app as its
// own user; two homes on one host handing out the same uids would let an app
// of one signal the processes and write the files of an app of the other. So
// each home claims a range of its own in a registry shared by every home on
// the host (`/var/lib/slipway/uid-ranges/<index>`, a file naming the home),
// under a lock, and remembers its index in `<home>/uid-range`. A claim whose
// home directory no longer exists is taken over. Range 0 (uids 20001-30000)
// is what homes used before ranges existed, so an older home claims it first.

import fs from 'node:fs';
import path from 'node:path';
import type { UidRange } from '../core/types.ts';

export const UID_RANGE_SIZE = 10_000;
const FIRST_UID = 20_001;
const MAX_RANGES = 100_000;
export const UID_REGISTRY = '/var/lib/slipway/uid-ranges';

export interface UidClaim {
  readonly index: number;
  readonly range: UidRange;
  /** Why the range may not be the home's alone (no registry, or another home's), for a warning. */
  readonly warning?: string;
}

export function uidRangeAt(index: number): UidRange {
  const first = FIRST_UID + index * UID_RANGE_SIZE;
  return { first, last: first + UID_RANGE_SIZE - 1 };
}

export async function claimUidRange(home: string, registry = UID_REGISTRY): Promise<UidClaim> {
  const homeDir = path.resolve(home);
  const recordFile = path.join(homeDir, 'uid-range');
  const recorded = readIndex(recordFile);
  try {
    fs.mkdirSync(registry, { recursive: true, mode: 0o755 });
  } catch (err) {
    const index = recorded ?? 0;
    return { index, range: uidRangeAt(index), warning: `no uid registry at ${registry}: ${(err as Error).message}` };
  }
  return withLock(path.join(registry, '.lock'), () => {
    const ownerOf = (index: number) => readOwner(path.join(registry, String(index)));
    const take = (index: number): UidClaim => {
      fs.writeFileSync(path.join(registry, String(index)), `${homeDir}\n`, { mode: 0o644 });
      fs.writeFileSync(recordFile, `${index}\n`, { mode: 0o600 });
      return { index, range: uidRangeAt(index) };
    };
    if (recorded !== null) {
      const owner = ownerOf(recorded);
      if (owner === homeDir || owner === null || !fs.existsSync(owner)) return take(recorded);
      return {
        index: recorded,
        range: uidRangeAt(recorded),
        warning: `uid range ${recorded} is also claimed by the Slipway home ${owner}: apps of both may share uids`,
      };
    }
    for (let index = 0; index < MAX_RANGES; index++) {
      const owner = ownerOf(index);
      if (owner === null || owner === homeDir || !fs.existsSync(owner)) return take(index);
    }
    throw new Error(`every uid range of ${registry} is claimed`);
  });
}

function readIndex(file: string): number | null {
  try {
    const index = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(index) && index >= 0 && index < MAX_RANGES ? index : null;
  } catch {
    return null;
  }
}

function readOwner(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * Runs `fn` holding a lock directory (mkdir is atomic); a lock older than
 * 30 s is a dead holder's and is broken. Gives up after 10 s.
 */
async function withLock<T>(lock: string, fn: () => T): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 30_000) fs.rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`the uid registry lock ${lock} is held`);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
