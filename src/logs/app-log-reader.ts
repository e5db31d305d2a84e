// Reading an app's log back: the on-disk line format (`ISO source: line`),
// matching lines by process type, and taking the last N entries from the end
// of a file in chunks, so `--lines 100` of a 5 MB log reads kilobytes.

import fs from 'node:fs';
import { promisify } from 'node:util';

export interface LogEntry {
  readonly time: string;
  /** Who printed it: a container (`web-1`), `router`, or `slipway`. */
  readonly source: string;
  readonly line: string;
}

export type SourceMatcher = (source: string) => boolean;

export function formatEntry(entry: LogEntry): string {
  return `${entry.time} ${entry.source}: ${entry.line}\n`;
}

export function parseEntry(text: string): LogEntry {
  const space = text.indexOf(' ');
  const colon = space === -1 ? -1 : text.indexOf(': ', space + 1);
  if (colon === -1) return { time: '', source: 'unknown', line: text };
  return { time: text.slice(0, space), source: text.slice(space + 1, colon), line: text.slice(colon + 2) };
}

/**
 * `web` matches every web container (`web-1`, `web-12`), `web-1` only that
 * one, `router` the router's access lines; no filter matches everything.
 */
export function sourceMatcher(filter: string | undefined): SourceMatcher {
  if (!filter) return () => true;
  return (source) =>
    source === filter ||
    (source.length > filter.length + 1 &&
      source.startsWith(filter) &&
      source[filter.length] === '-' &&
      /^\d+$/.test(source.slice(filter.length + 1)));
}

const read = promisify(fs.read);
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * The last `want` matching entries among the first `end` bytes of an open
 * file, oldest first. Splitting on the newline byte is safe in UTF-8: no
 * multi-byte character contains 0x0a.
 */
export async function readLastEntries(
  fd: number,
  end: number,
  want: number,
  matches: SourceMatcher,
): Promise<LogEntry[]> {
  const newestFirst: LogEntry[] = [];
  const take = (bytes: Buffer) => {
    if (bytes.length === 0) return;
    const entry = parseEntry(bytes.toString('utf8'));
    if (matches(entry.source)) newestFirst.push(entry);
  };
  let position = end;
  let carry = Buffer.alloc(0);
  while (position > 0 && newestFirst.length < want) {
    const size = Math.min(CHUNK_BYTES, position);
    position -= size;
    const chunk = Buffer.alloc(size);
    const { bytesRead } = await read(fd, chunk, 0, size, position);
    const data = carry.length > 0 ? Buffer.concat([chunk.subarray(0, bytesRead), carry]) : chunk.subarray(0, bytesRead);
    let stop = data.length;
    while (stop > 0 && newestFirst.length < want) {
      const newline = data.lastIndexOf(NEWLINE, stop - 1);
      if (newline === -1) break;
      take(data.subarray(newline + 1, stop));
      stop = newline;
    }
    // The bytes before the first newline may be the tail of an earlier line.
    carry = data.subarray(0, stop);
  }
  if (position === 0 && newestFirst.length < want) take(carry);
  return newestFirst.reverse();
}
