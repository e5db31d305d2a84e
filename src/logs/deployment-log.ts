// The deployment log a user reads: one append-only file per deployment
// (`logs/deployments/<id>.log`), written line by line *before* a line is
// announced to live followers. Each line has a sequence number so a follower
// can read the file and then subscribe without losing or repeating a line.
// Writing never throws: a line the disk has no room for (or any write that
// fails) is still announced to followers, left out of the file, and counted;
// a deployment must reach its final status even when its log cannot grow.

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { formatBytes } from '../core/format-bytes.ts';

export interface LogLine {
  readonly seq: number;
  readonly text: string;
}

interface OpenLog {
  /** -1 when the file could not be opened. */
  fd: number;
  seq: number;
  /** Bytes of build and hook output written so far. */
  outputBytes: number;
  truncated: boolean;
  /** Lines that could not be written to the file. */
  lost: number;
}

/** Default cap on the build and hook output kept per deployment. */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export class DeploymentLogs {
  readonly #dir: string;
  readonly #maxOutputBytes: number;
  readonly #open = new Map<string, OpenLog>();
  readonly #events = new EventEmitter();
  readonly #logger: Logger | undefined;

  constructor(dir: string, options: { maxOutputBytes?: number; logger?: Logger } = {}) {
    this.#dir = dir;
    this.#maxOutputBytes = options.maxOutputBytes ?? MAX_OUTPUT_BYTES;
    this.#logger = options.logger;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#events.setMaxListeners(0);
  }

  file(id: string): string {
    return path.join(this.#dir, `${id}.log`);
  }

  /** Slipway's own lines (step headers, outcomes): always kept. */
  append(id: string, text: string): void {
    this.#write(this.#openLog(id), id, text);
  }

  /**
   * Build and hook output: kept up to the per-deployment cap, then dropped
   * with one line saying so (Slipway's own lines still follow).
   */
  appendOutput(id: string, text: string): void {
    const log = this.#openLog(id);
    if (log.truncated) return;
    log.outputBytes += Buffer.byteLength(text) + 1;
    if (log.outputBytes <= this.#maxOutputBytes) {
      this.#write(log, id, text);
      return;
    }
    log.truncated = true;
    this.#write(
      log,
      id,
      `       [slipway] output over ${formatBytes(this.#maxOutputBytes)}: the rest of this deployment's build and hook output is not kept`,
    );
  }

  #openLog(id: string): OpenLog {
    let log = this.#open.get(id);
    if (!log) {
      const file = this.file(id);
      let existing = 0;
      let fd = -1;
      try {
        existing = fs.existsSync(file) ? countLines(fs.readFileSync(file, 'utf8')) : 0;
        fd = fs.openSync(file, 'a', 0o600);
      } catch (err) {
        this.#logger?.warn(
          { err, deployment: id },
          'cannot open the deployment log; its lines reach live followers only',
        );
      }
      log = { fd, seq: existing, outputBytes: 0, truncated: false, lost: 0 };
      this.#open.set(id, log);
    }
    return log;
  }

  #write(log: OpenLog, id: string, text: string): void {
    for (const part of text.split('\n')) {
      if (log.fd >= 0) {
        try {
          fs.writeSync(log.fd, `${part}\n`);
        } catch (err) {
          if (log.lost === 0)
            this.#logger?.warn({ err, deployment: id }, 'a deployment log line could not be written (disk full?)');
          log.lost++;
        }
      } else log.lost++;
      const line: LogLine = { seq: log.seq++, text: part };
      this.#events.emit(id, line);
    }
  }

  /** Flushes the log to disk and tells followers it is complete. */
  finish(id: string): void {
    const log = this.#open.get(id);
    if (log) {
      this.#open.delete(id);
      if (log.fd >= 0) {
        try {
          fs.fsyncSync(log.fd);
        } catch (err) {
          this.#logger?.warn({ err, deployment: id }, 'the deployment log could not be flushed to disk');
        }
        fs.closeSync(log.fd);
      }
      if (log.lost > 0)
        this.#logger?.warn({ deployment: id, lines: log.lost }, 'deployment log lines were not kept (disk full?)');
    }
    this.#events.emit(`${id}:end`);
  }

  /** Every line written so far. */
  read(id: string): string[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return text === '' ? [] : text.replace(/\n$/, '').split('\n');
  }

  /**
   * Replays the log then follows it: `onLine` sees every line exactly once, in
   * order; `onEnd` fires when the deployment's log is finished. Returns a
   * function that stops following.
   */
  follow(id: string, onLine: (text: string) => void, onEnd: () => void): () => void {
    const buffered: LogLine[] = [];
    let replayed = -1;
    const lineListener = (line: LogLine) => {
      if (replayed < 0) buffered.push(line);
      else if (line.seq >= replayed) onLine(line.text);
    };
    const endListener = () => onEnd();
    this.#events.on(id, lineListener);
    this.#events.on(`${id}:end`, endListener);
    const lines = this.read(id);
    // Lines announced from here on are new; the file may lack some (a full disk), so its length is not the mark.
    const mark = this.#open.get(id)?.seq ?? lines.length;
    for (const text of lines) onLine(text);
    replayed = mark;
    for (const line of buffered) if (line.seq >= mark) onLine(line.text);
    return () => {
      this.#events.off(id, lineListener);
      this.#events.off(`${id}:end`, endListener);
    };
  }

  isOpen(id: string): boolean {
    return this.#open.has(id);
  }

  remove(id: string): void {
    fs.rmSync(this.file(id), { force: true });
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
