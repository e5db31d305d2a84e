// Turns a byte stream into lines as they arrive. A line longer than
// `maxLineBytes` is cut there (and the rest continues as a new line), so one
// runaway writer cannot grow memory without bound.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

export function splitLines(
  stream: Readable,
  onLine: (line: string) => void,
  maxLineBytes = DEFAULT_MAX_LINE_BYTES,
): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line: string) => onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  stream.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk);
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      emit(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    while (pending.length > maxLineBytes) {
      emit(pending.slice(0, maxLineBytes));
      pending = pending.slice(maxLineBytes);
    }
  });
  stream.on('end', () => {
    pending += decoder.end();
    if (pending !== '') emit(pending);
    pending = '';
  });
}
