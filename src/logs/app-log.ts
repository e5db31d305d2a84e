// App logs: every line a container prints, the router's access lines and
// Slipway's own notes about an app, each as `ISO source: line`, appended to
// `logs/apps/<app>/app.log` through a buffered stream (no sync I/O per line).
//
// Size cap: an app's log never uses more than `maxBytes` on disk. When
// app.log would grow past half of it, it is renamed to app.log.1 (replacing
// the previous one) and a fresh app.log starts: at most two files, the older
// half is dropped. Lines longer than `maxLineChars` are cut; lines the disk
// cannot keep up with (more than `maxQueuedBytes` waiting) are dropped and
// counted in a `slipway` line rather than held in memory.
//
// Readers get the last N entries and, when following, every later entry
// exactly once: they subscribe and note where the file ends in the same tick,
// so history and live lines meet without a gap or a repeat.

import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { formatEntry, type LogEntry, readLastEntries, type SourceMatcher, sourceMatcher } from './app-log-reader.ts';

export type { LogEntry } from './app-log-reader.ts';

export interface AppLogsOptions {
  /** Disk an app's log may use, both files together. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Longer lines are cut to this many characters. Default 8192. */
  readonly maxLineChars?: number;
  /** Bytes waiting for the disk per app before lines are dropped. Default 1 MiB. */
  readonly maxQueuedBytes?: number;
  readonly logger?: Logger;
}

export interface ReadOptions {
  /** How many of the latest matching entries to return. */
  readonly lines: number;
  /** A process type (`web`), a container (`web-1`), `router` or `slipway`; none: all. */
  readonly type?: string;
}

interface OpenLog {
  stream: fs.WriteStream;
  /** Bytes in app.log once everything queued is written. */
  size: number;
  /** The stream of the file just rotated away, while it still flushes. */
  retiring: fs.WriteStream | null;
  dropped: number;
}

interface Snapshot {
  /** Newest file first; `end` null means up to the end of the file. */
  readonly files: { fd: number; end: number | null }[];
  readonly flushed: Promise<void>;
}

interface Listener {
  readonly onEntry: (entry: LogEntry) => void;
  readonly onEnd: () => void;
}

const fstat = promisify(fs.fstat);
const CURRENT = 'app.log';
const PREVIOUS = 'app.log.1';

export class AppLogs {
  readonly #dir: string;
  readonly #fileCap: number;
  readonly #maxLineChars: number;
  readonly #maxQueuedBytes: number;
  readonly #logger: Logger | undefined;
  readonly #logs = new Map<string, OpenLog>();
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(dir: string, options: AppLogsOptions = {}) {
    this.#dir = dir;
    this.#fileCap = Math.max(1, Math.floor((options.maxBytes ?? 10 * 1024 * 1024) / 2));
    this.#maxLineChars = options.maxLineChars ?? 8192;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.#logger = options.logger;
  }

  /** Appends one line (several if `text` has newlines). Never throws: a log failure must not stop an app. */
  write(app: string, source: string, text: string): void {
    if (!text.includes('\n')) this.#append(app, source, text);
    else for (const line of text.split('\n')) this.#append(app, source, line);
  }

  /**
   * Live entries of one app, as they are written; `onEnd` when the app's
   * logs are removed (the app was destroyed). Returns the unsubscribe function.
   */
  subscribe(app: string, onEntry: (entry: LogEntry) => void, onEnd: () => void = () => {}): () => void {
    const listener: Listener = { onEntry, onEnd };
    let set = this.#listeners.get(app);
    if (!set) {
      set = new Set();
      this.#listeners.set(app, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(app) === set) this.#listeners.delete(app);
    };
  }

  /** The latest `lines` matching entries, oldest first. */
  async read(app: string, options: ReadOptions): Promise<LogEntry[]> {
    return this.#readSnapshot(this.#snapshot(app), options.lines, sourceMatcher(options.type));
  }

  /**
   * Delivers the latest `lines` matching entries, then every matching entry
   * written afterwards, each exactly once. Resolves (with the function that
   * stops following) once the history has been delivered.
   */
  async follow(
    app: string,
    options: ReadOptions,
    onEntry: (entry: LogEntry) => void,
    onEnd: () => void = () => {},
  ): Promise<() => void> {
    const matches = sourceMatcher(options.type);
    let pending: LogEntry[] | null = [];
    const stop = this.subscribe(
      app,
      (entry) => {
        if (!matches(entry.source)) return;
        if (pending) pending.push(entry);
        else onEntry(entry);
      },
      onEnd,
    );
    try {
      const history = await this.#readSnapshot(this.#snapshot(app), options.lines, matches);
      for (const entry of history) onEntry(entry);
      for (const entry of pending) onEntry(entry);
      pending = null;
      return stop;
    } catch (err) {
      stop();
      throw err;
    }
  }

  async remove(app: string): Promise<void> {
    const listeners = this.#listeners.get(app);
    this.#listeners.delete(app);
    for (const listener of listeners ?? []) listener.onEnd();
    await this.#closeStream(app);
    await fs.promises.rm(path.join(this.#dir, app), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#logs.keys()].map((app) => this.#closeStream(app)));
  }

  #append(app: string, source: string, raw: string): void {
    const log = this.#logs.get(app) ?? this.#open(app);
    if (!log) return;
    if (log.stream.writableLength > this.#maxQueuedBytes) {
      log.dropped++;
      return;
    }
    if (log.dropped > 0) {
      const dropped = log.dropped;
      log.dropped = 0;
      this.#append(app, 'slipway', `${dropped} log lines dropped: the disk could not keep up`);
    }
    const line = raw.length > this.#maxLineChars ? `${raw.slice(0, this.#maxLineChars)}…` : raw;
    const entry: LogEntry = { time: new Date().toISOString(), source, line };
    const text = formatEntry(entry);
    const bytes = Buffer.byteLength(text);
    if (log.size > 0 && log.size + bytes > this.#fileCap && !this.#rotate(app, log)) return;
    log.stream.write(text);
    log.size += bytes;
    const listeners = this.#listeners.get(app);
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener.onEntry(entry);
      } catch (err) {
        // One broken follower must not stop the app's logging or the other followers.
        this.#logger?.warn({ err, app }, 'app log follower failed');
      }
    }
  }

  #open(app: string): OpenLog | undefined {
    try {
      const dir = path.join(this.#dir, app);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { stream, size } = this.#openStream(app);
      const log: OpenLog = { stream, size, retiring: null, dropped: 0 };
      this.#logs.set(app, log);
      return log;
    } catch (err) {
      this.#logger?.warn({ err, app }, 'cannot open the app log; line dropped');
      return undefined;
    }
  }

  #openStream(app: string): { stream: fs.WriteStream; size: number } {
    const file = path.join(this.#dir, app, CURRENT);
    // Opened synchronously so that a rotation's rename always moves the file
    // this stream writes to (an async open could land on the new name).
    const fd = fs.openSync(file, 'a', 0o600);
    const size = fs.fstatSync(fd).size;
    const stream = fs.createWriteStream(file, { fd });
    stream.on('error', (err) => {
      this.#logger?.warn({ err, app }, 'app log write failed');
      if (this.#logs.get(app)?.stream === stream) this.#logs.delete(app);
    });
    return { stream, size };
  }

  /** app.log becomes app.log.1; false when that failed (the line is dropped, the cap holds). */
  #rotate(app: string, log: OpenLog): boolean {
    const dir = path.join(this.#dir, app);
    try {
      fs.renameSync(path.join(dir, CURRENT), path.join(dir, PREVIOUS));
      const next = this.#openStream(app);
      // Queued writes still land in the renamed file: the stream holds its fd.
      log.stream.end();
      log.retiring = log.stream;
      log.stream = next.stream;
      log.size = next.size;
      return true;
    } catch (err) {
      // Start over at the next line: reopen app.log and try to rotate again.
      this.#logger?.warn({ err, app }, 'cannot rotate the app log; line dropped');
      log.stream.end();
      this.#logs.delete(app);
      return false;
    }
  }

  /**
   * Opens the files and notes where app.log ends in one synchronous step (in
   * the same tick as a follower subscribes); later renames do not matter as
   * the descriptors follow the files.
   */
  #snapshot(app: string): Snapshot {
    const dir = path.join(this.#dir, app);
    const log = this.#logs.get(app);
    const files: { fd: number; end: number | null }[] = [];
    try {
      const current = openIfExists(path.join(dir, CURRENT));
      if (current !== null) files.push({ fd: current, end: log ? log.size : fs.fstatSync(current).size });
      const previous = openIfExists(path.join(dir, PREVIOUS));
      if (previous !== null) files.push({ fd: previous, end: null });
    } catch (err) {
      for (const { fd } of files) fs.closeSync(fd);
      throw err;
    }
    const flushed = log ? Promise.all([flushedStream(log.stream), flushedStream(log.retiring)]) : Promise.resolve();
    return { files, flushed: flushed.then(() => undefined) };
  }

  async #readSnapshot(snapshot: Snapshot, lines: number, matches: SourceMatcher): Promise<LogEntry[]> {
    try {
      await snapshot.flushed;
      let entries: LogEntry[] = [];
      for (const { fd, end } of snapshot.files) {
        if (entries.length >= lines) break;
        const upTo = end ?? (await fstat(fd)).size;
        entries = [...(await readLastEntries(fd, upTo, lines - entries.length, matches)), ...entries];
      }
      return entries;
    } finally {
      for (const { fd } of snapshot.files) fs.close(fd, () => {});
    }
  }

  async #closeStream(app: string): Promise<void> {
    const log = this.#logs.get(app);
    this.#logs.delete(app);
    if (log) await Promise.all([endStream(log.stream), flushedStream(log.retiring)]);
  }
}

function openIfExists(file: string): number | null {
  try {
    return fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Resolves once everything written to `stream` so far is on disk. */
function flushedStream(stream: fs.WriteStream | null): Promise<void> {
  if (stream === null || stream.writableFinished || stream.destroyed) return Promise.resolve();
  if (stream.writableEnded) return new Promise((resolve) => stream.once('close', () => resolve()));
  return new Promise((resolve) => stream.write('', () => resolve()));
}

function endStream(stream: fs.WriteStream): Promise<void> {
  if (stream.destroyed || stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.end();
  });
}
