// Procfile parser (Heroku/foreman grammar): `type: command` per line, types
// [A-Za-z0-9_-]+, `#` comments, blank lines, CRLF. Errors name the line.
// The `postdeploy` entry is the deploy hook and `release` Heroku's release
// phase: one-off commands, never process types.

import { SlipwayError } from './errors.ts';

export interface Procfile {
  /** Process types in file order, `postdeploy` and `release` excluded. */
  readonly processes: Readonly<Record<string, string>>;
  /** The `postdeploy:` command, when the Procfile declares one. */
  readonly postdeploy: string | null;
  /** The `release:` command (Heroku's release phase), when declared. */
  readonly release: string | null;
}

const LINE = /^([^:\s]+)[ \t]*:[ \t]*(.*)$/;
/** Process types one Procfile may declare (the hook not counted): each is at least one container. */
export const MAX_PROCESS_TYPES = 20;
/** Longest command, in bytes: a command line, not a script (put long ones in a file of the app). */
export const MAX_COMMAND_BYTES = 4096;
const TYPE = /^[A-Za-z0-9_-]+$/;
export const HOOK_TYPE = 'postdeploy';
export const RELEASE_TYPE = 'release';

/** Whether `type` can name a process type: a Procfile's name rule, and not one of its one-off commands. */
export function isProcessType(type: string): boolean {
  return TYPE.test(type) && type.length <= 64 && type !== HOOK_TYPE && type !== RELEASE_TYPE;
}

export function parseProcfile(text: string): Procfile {
  // Entries first, object last: Object.fromEntries defines own properties, so a
  // type named `__proto__` or `constructor` is just a name, never a prototype.
  const entries: [string, string][] = [];
  let postdeploy: string | null = null;
  let release: string | null = null;
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);

  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = LINE.exec(line);
    if (!match) {
      throw new SlipwayError(
        'procfile.invalid_line',
        `Procfile line ${lineNo}: expected "type: command", got ${JSON.stringify(raw)}`,
        {
          line: lineNo,
        },
      );
    }
    const [, type = '', command = ''] = match;
    if (!TYPE.test(type)) {
      throw new SlipwayError(
        'procfile.invalid_type',
        `Procfile line ${lineNo}: process type ${JSON.stringify(type)} may only use letters, digits, "_" and "-"`,
        { line: lineNo },
      );
    }
    if (command.trim() === '') {
      throw new SlipwayError(
        'procfile.invalid_line',
        `Procfile line ${lineNo}: process type "${type}" has no command`,
        {
          line: lineNo,
        },
      );
    }
    if (command.includes('\0')) {
      throw new SlipwayError('procfile.invalid_line', `Procfile line ${lineNo}: the command contains a NUL byte`, {
        line: lineNo,
      });
    }
    if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
      throw new SlipwayError(
        'procfile.invalid_line',
        `Procfile line ${lineNo}: the command of "${type}" is longer than ${MAX_COMMAND_BYTES} bytes (move it into a script)`,
        { line: lineNo },
      );
    }
    const previous = seen.get(type);
    if (previous !== undefined) {
      throw new SlipwayError(
        'procfile.duplicate_type',
        `Procfile line ${lineNo}: process type "${type}" is already declared on line ${previous}`,
        { line: lineNo },
      );
    }
    seen.set(type, lineNo);
    if (type === HOOK_TYPE) postdeploy = command.trim();
    else if (type === RELEASE_TYPE) release = command.trim();
    else entries.push([type, command.trim()]);
    if (entries.length > MAX_PROCESS_TYPES) {
      throw new SlipwayError(
        'procfile.too_many_types',
        `Procfile line ${lineNo}: more than ${MAX_PROCESS_TYPES} process types (each runs at least one container)`,
        { line: lineNo },
      );
    }
  });

  return { processes: Object.fromEntries(entries), postdeploy, release };
}
