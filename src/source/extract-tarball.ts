// Unpacks an uploaded .tar.gz into an empty directory, safely. Pass one reads
// headers only and refuses the archive before anything is written; pass two
// unpacks with node-tar's own protections on, and re-checks every entry in a
// filter so that a gap in pass one still cannot write outside the directory.

import fs from 'node:fs';
import { Parser, ReadEntry, Unpack } from 'tar';
import { SlipwayError } from '../core/errors.ts';
import { DEFAULT_LIMITS, EntryChecker, type ExtractLimits } from './check-entry.ts';

export interface ExtractStats {
  /** Regular files (hard links excluded). */
  readonly files: number;
  /** Their total size. */
  readonly bytes: number;
}

export async function extractTarball(
  archive: string,
  destDir: string,
  limits: Partial<ExtractLimits> = {},
): Promise<ExtractStats> {
  const resolved = resolveLimits(limits);
  await assertEmptyDir(destDir);
  const stats = await checkTarball(archive, resolved);
  await unpackChecked(archive, destDir, resolved);
  return stats;
}

/**
 * Validation only (pass one), writing nothing: lets the API refuse a hostile
 * or broken upload at once, before a deployment is even created.
 */
export async function checkTarball(archive: string, limits: Partial<ExtractLimits> = {}): Promise<ExtractStats> {
  await assertGzip(archive);
  const checked = await checkArchive(archive, resolveLimits(limits));
  return { files: checked.files, bytes: checked.bytes };
}

/** Pass one: every header, no data written. Resolves with the checker's totals. */
export function checkArchive(archive: string, limits: ExtractLimits): Promise<EntryChecker> {
  const checker = new EntryChecker(limits);
  return new Promise((resolve, reject) => {
    let settled = false;
    let sawEof = false;
    const input = fs.createReadStream(archive);
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      input.destroy();
      reject(err);
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (settled) return;
        try {
          checker.check(entry);
        } catch (err) {
          fail(err);
          return;
        }
        entry.resume(); // headers only: let the body flow past unread
      },
    });
    // Two zero blocks with no entry before them: a well-formed but empty tar,
    // which node-tar reports as an unrecognized format.
    parser.on('eof', () => {
      sawEof = true;
    });
    parser.on('error', (err: Error) => fail(sawEof && checker.entries === 0 ? empty() : tarError(err)));
    parser.on('end', () => {
      if (settled) return;
      try {
        checker.finish();
        if (checker.files === 0) throw empty();
      } catch (err) {
        fail(err);
        return;
      }
      settled = true;
      resolve(checker);
    });
    input.on('error', fail);
    input.pipe(parser);
  });
}

/**
 * Pass two: unpacks into `destDir`. The filter re-runs the same checks on each
 * entry and skips any it refuses; the first refusal is thrown once node-tar is
 * done, so no write is ever left running behind the caller's cleanup.
 */
export function unpackChecked(archive: string, destDir: string, limits: ExtractLimits): Promise<void> {
  const checker = new EntryChecker(limits);
  let refused: unknown;
  let failure: Error | undefined;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (refused !== undefined) reject(refused);
      else if (failure !== undefined) reject(unpackError(failure));
      else resolve();
    };
    const unpack = new Unpack({
      cwd: destDir,
      strict: true,
      preserveOwner: false,
      filter: (_path, entry) => {
        if (refused !== undefined || !(entry instanceof ReadEntry)) return false;
        try {
          checker.check(entry);
        } catch (err) {
          refused = err;
          return false;
        }
        // Permissions are kept; setuid, setgid and sticky bits from an upload are not.
        if (typeof entry.mode === 'number') entry.mode &= 0o777;
        return true;
      },
    });
    unpack.on('error', (err: Error) => {
      failure ??= err;
      // An abort (corrupt gzip) stops the parser: no `close` will follow.
      if (tarCode(err) === 'TAR_ABORT') finish();
    });
    unpack.on('close', finish);
    const input = fs.createReadStream(archive);
    input.on('error', (err) => {
      failure ??= err;
      finish();
    });
    input.pipe(unpack);
  });
}

async function assertGzip(archive: string): Promise<void> {
  const handle = await fs.promises.open(archive, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    if (bytesRead < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) {
      throw new SlipwayError('source.invalid_archive', 'the archive is not gzip-compressed: send a .tar.gz');
    }
  } finally {
    await handle.close();
  }
}

async function assertEmptyDir(dir: string): Promise<void> {
  const entries = await fs.promises.readdir(dir);
  if (entries.length > 0) throw new Error(`extractTarball: ${dir} is not empty`);
}

function tarError(err: Error): SlipwayError {
  if (/decompression ratio/.test(err.message)) {
    return new SlipwayError('source.too_large', `the archive unpacks to too much data for its size: ${err.message}`);
  }
  return new SlipwayError('source.invalid_archive', `not a valid .tar.gz archive: ${err.message}`);
}

/** Pass-two failures: archive problems become SlipwayErrors; host problems (disk full) stay as they are. */
function unpackError(err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'TAR_SYMLINK_ERROR')
    return new SlipwayError('source.unsafe_link', `refused to write through a symlink: ${err.message}`);
  if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENOENT') {
    return new SlipwayError('source.invalid_archive', `conflicting entries in the archive: ${err.message}`);
  }
  if ((err as NodeJS.ErrnoException).syscall !== undefined) return err;
  return tarError(err);
}

function tarCode(err: Error): string | undefined {
  const value = (err as { tarCode?: unknown }).tarCode;
  return typeof value === 'string' ? value : undefined;
}

function empty(): SlipwayError {
  return new SlipwayError('source.empty', 'the archive contains no files');
}

function resolveLimits(limits: Partial<ExtractLimits>): ExtractLimits {
  const given = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_LIMITS, ...given };
}
