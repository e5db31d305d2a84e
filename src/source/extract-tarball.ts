// Unpacks an uploaded .tar.gz into an empty directory, safely. Pass one reads
// headers only and refuses the archive before anything is written; pass two
// unpacks with node-tar's own protections on, and re-checks every entry in a
// filter so that a gap in pass one still cannot write outside the directory.
// Pass two stops at once, with nothing left writing, when the caller aborts
// or the disk is full (`disk.full`).

import fs from 'node:fs';
import { Parser, ReadEntry, Unpack, UnpackSync } from 'tar';
import { diskFull, isOutOfSpace, SlipwayError } from '../core/errors.ts';
import { DEFAULT_LIMITS, EntryChecker, type ExtractLimits } from './check-entry.ts';

export interface ExtractStats {
  /** Regular files (hard links excluded). */
  readonly files: number;
  /** Their total size. */
  readonly bytes: number;
}

export interface ExtractOptions {
  /** Stops the unpacking (its promise then rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Called with pass one's exact totals before anything is written; throwing refuses the archive. */
  readonly beforeUnpack?: (stats: ExtractStats) => void;
}

export async function extractTarball(
  archive: string,
  destDir: string,
  limits: Partial<ExtractLimits> = {},
  options: ExtractOptions = {},
): Promise<ExtractStats> {
  const resolved = resolveLimits(limits);
  await assertEmptyDir(destDir);
  const source = await openArchive(archive);
  const checked = await checkArchive(source, resolved);
  options.beforeUnpack?.({ files: checked.files, bytes: checked.bytes });
  options.signal?.throwIfAborted();
  // Pass one gave the exact size: a small archive is written out in one synchronous go.
  const sync = Buffer.isBuffer(source) && checked.bytes <= SYNC_MAX_BYTES && checked.entries <= SYNC_MAX_ENTRIES;
  await unpackChecked(source, destDir, resolved, { sync, signal: options.signal });
  return { files: checked.files, bytes: checked.bytes };
}

/**
 * Validation only (pass one), writing nothing: lets the API refuse a hostile
 * or broken upload at once, before a deployment is even created. `archive`
 * is the file, or its bytes when the caller already holds them.
 */
export async function checkTarball(
  archive: string | Buffer,
  limits: Partial<ExtractLimits> = {},
): Promise<ExtractStats> {
  const source = Buffer.isBuffer(archive) ? checkGzip(archive) : await openArchive(archive);
  const checked = await checkArchive(source, resolveLimits(limits));
  return { files: checked.files, bytes: checked.bytes };
}

/**
 * An archive no bigger than one chunk of a read stream is read at once and
 * parsed from memory (no more work in one go than a chunk of the stream, and
 * fewer trips to the thread pool); a bigger one is streamed from its file.
 */
const IN_MEMORY_MAX_BYTES = 64 * 1024;

/**
 * Unpacked sizes written with synchronous calls: each costs microseconds, where
 * a trip to the thread pool and back can cost milliseconds on a busy machine;
 * this bounds how long the event loop (and the built-in router) waits.
 */
const SYNC_MAX_BYTES = 256 * 1024;
const SYNC_MAX_ENTRIES = 64;

/** Returns `bytes` when they start like gzip data; refuses anything else. */
function checkGzip(bytes: Buffer): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new SlipwayError('source.invalid_archive', 'the archive is not gzip-compressed: send a .tar.gz');
  }
  return bytes;
}

/** An archive to parse: its file, or its bytes when small. */
type ArchiveSource = string | Buffer;

/**
 * Refuses anything but gzip; returns the archive's bytes when small, else its
 * path. Synchronous calls: an open, a stat and a read of at most 64 KiB take
 * microseconds, where as many trips to the thread pool cost milliseconds on a
 * busy host, on the way to every deployment.
 */
async function openArchive(archive: string): Promise<ArchiveSource> {
  const fd = fs.openSync(archive, 'r');
  try {
    const { size } = fs.fstatSync(fd);
    const bytes = Buffer.alloc(size <= IN_MEMORY_MAX_BYTES ? size : 2);
    let read = 0;
    while (read < bytes.length) {
      const bytesRead = fs.readSync(fd, bytes, read, bytes.length - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    checkGzip(bytes.subarray(0, read));
    return size <= IN_MEMORY_MAX_BYTES ? bytes.subarray(0, read) : archive;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the archive into a tar parser: at once from memory, or streamed from
 * its file. Returns a function that stops reading the file.
 */
function feed(source: ArchiveSource, parser: Parser, onReadError: (err: Error) => void): () => Promise<void> {
  if (Buffer.isBuffer(source)) {
    parser.end(source);
    return async () => {};
  }
  const input = fs.createReadStream(source);
  input.on('error', onReadError);
  input.pipe(parser);
  // Resolves once the file is closed (a destroyed stream closes its descriptor a moment later).
  const closed = new Promise<void>((resolve) => input.once('close', () => resolve()));
  return () => {
    input.destroy();
    return closed;
  };
}

/** Pass one: every header, no data written. Resolves with the checker's totals. */
export function checkArchive(archive: ArchiveSource, limits: ExtractLimits): Promise<EntryChecker> {
  const checker = new EntryChecker(limits);
  return new Promise((resolve, reject) => {
    let settled = false;
    let sawEof = false;
    let stopReading = async () => {};
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      void stopReading();
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
    stopReading = feed(archive, parser, fail);
  });
}

/**
 * Pass two: unpacks into `destDir`. The filter re-runs the same checks on each
 * entry and skips any it refuses; the first refusal is thrown once node-tar is
 * done, so no write is ever left running behind the caller's cleanup. An abort
 * of `signal`, or a write that finds the disk full, stops it early: see stop().
 */
export function unpackChecked(
  archive: ArchiveSource,
  destDir: string,
  limits: ExtractLimits,
  options: { readonly sync?: boolean; readonly signal?: AbortSignal } = {},
): Promise<void> {
  const checker = new EntryChecker(limits);
  const { signal } = options;
  let refused: unknown;
  let failure: Error | undefined;
  /** Entries being written: a stop ends them, which closes their files. */
  const writing = new Set<ReadEntry>();
  return new Promise((resolve, reject) => {
    let settled = false;
    let stopReading = async () => {};
    /** The archive's file closed, after a stop. */
    let inputClosed = Promise.resolve();
    let stopTimer: NodeJS.Timeout | undefined;
    const settle = () => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(signal.reason);
      else if (refused !== undefined) reject(refused);
      else if (failure !== undefined) reject(unpackError(failure));
      else resolve();
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(stopTimer);
      // After a stop, entries admitted before it may still be creating their files: wait for them.
      if (stopped) {
        const deadline = Date.now() + STOP_WAIT_MS;
        void Promise.all([writesDone(unpack, deadline), Promise.race([inputClosed, until(deadline)])]).then(settle);
      } else settle();
    };
    const unpack = new (options.sync ? UnpackSync : Unpack)({
      cwd: destDir,
      strict: true,
      preserveOwner: false,
      filter: (_path, entry) => {
        if (refused !== undefined || stopped || !(entry instanceof ReadEntry)) return false;
        try {
          checker.check(entry);
        } catch (err) {
          refused = err;
          return false;
        }
        // Permissions are kept; setuid, setgid and sticky bits from an upload are not.
        if (typeof entry.mode === 'number') entry.mode &= 0o777;
        writing.add(entry);
        entry.once('end', () => writing.delete(entry));
        return true;
      },
    });
    /**
     * Without this, node-tar goes on parsing the rest of the archive after a
     * write failed for want of space, and never ends (nor closes that file).
     * So: no more entries, no more input, the parser ended (a gzip stream cut
     * short aborts it: TAR_ABORT), and the entries being written ended, which
     * closes their files; what they still had to write is dropped.
     */
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      inputClosed = stopReading();
      unpack.end();
      for (const entry of writing) entry.end();
      // Should node-tar say nothing more, the caller is not kept waiting.
      stopTimer = setTimeout(finish, STOP_WAIT_MS);
    };
    function onAbort() {
      stop();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    unpack.on('error', (err: Error) => {
      failure ??= err;
      if (isOutOfSpace(err) && !options.sync) stop(); // a synchronous unpack is small, and all done in one go
      // An abort (corrupt gzip, or a stop) ends the parser: no `close` will follow.
      if (tarCode(err) === 'TAR_ABORT') finish();
    });
    unpack.on('close', finish);
    const onFailure = (err: Error) => {
      failure ??= err;
      finish();
    };
    try {
      if (signal?.aborted) throw signal.reason;
      stopReading = feed(archive, unpack, onFailure);
    } catch (err) {
      onFailure(err as Error); // a synchronous unpack may throw where the other emits
    }
  });
}

/** After a stop, the longest wait for node-tar to report its end, and for its writes to end. */
const STOP_WAIT_MS = 2000;

function until(deadline: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref());
}

/**
 * Resolves once node-tar has no entry left to write (its own `pending`
 * count: an entry admitted just before a stop may still be creating its
 * directories and file), or at `deadline`. A node-tar without that count
 * is not waited for.
 */
async function writesDone(unpack: object, deadline: number): Promise<void> {
  const key = Object.getOwnPropertySymbols(unpack).find((symbol) => symbol.description === 'pending');
  const pending = () => (key === undefined ? 0 : Number((unpack as Record<symbol, unknown>)[key]) || 0);
  while (pending() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
}

async function assertEmptyDir(dir: string): Promise<void> {
  const entries = fs.readdirSync(dir);
  if (entries.length > 0) throw new Error(`extractTarball: ${dir} is not empty`);
}

function tarError(err: Error): SlipwayError {
  if (/decompression ratio/.test(err.message)) {
    return new SlipwayError('source.too_large', `the archive unpacks to too much data for its size: ${err.message}`);
  }
  return new SlipwayError('source.invalid_archive', `not a valid .tar.gz archive: ${err.message}`);
}

/** Pass-two failures: archive problems and a full disk become SlipwayErrors; other host problems stay as they are. */
function unpackError(err: Error): Error {
  if (isOutOfSpace(err)) return diskFull('the unpacked source');
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
