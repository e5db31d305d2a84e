// The server's log: JSON lines (pino) for machines, or, on a terminal (or
// with --log-format pretty), one readable line per event: time, level, message
// and its fields.

import type { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import type { Settings } from '../config/settings.ts';

export async function serverLogger(
  settings: Pick<Settings, 'logLevel' | 'logFormat'>,
  stdout: Writable & { isTTY?: boolean },
): Promise<Logger> {
  const options = { level: settings.logLevel };
  const pretty = settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && stdout.isTTY === true);
  if (!pretty) return pino(options);
  // Loaded only for people: machines get JSON without it.
  const { default: prettyStream } = await import('pino-pretty');
  return pino(
    options,
    prettyStream({
      destination: stdout,
      colorize: stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      sync: true,
    }),
  );
}
