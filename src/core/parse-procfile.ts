// Procfile parser (Heroku/foreman grammar): `type: command` per line, types
// [A-Za-z0-9_-]+, `#` comments, blank lines, CRLF. Errors name the line.
// The `postdeploy` entry is the deploy hook, never a process type.

import { SlipwayError } from './errors.ts';

export interface Procfile {
  /** Process types in file order, `postdeploy` excluded. */
  readonly processes: Readonly<Record<string, string>>;
  /** The `postdeploy:` command, when the Procfile declares one. */
  readonly postdeploy: string | null;
}

const LINE = /^([^:\s]+)[ \t]*:[ \t]*(.*)$/;
const TYPE = /^[A-Za-z0-9_-]+$/;
export const HOOK_TYPE = 'postdeploy';

export function parseProcfile(text: string): Procfile {
  // Entries first, object last: Object.fromEntries defines own properties, so a
  // type named `__proto__` or `constructor` is just a name, never a prototype.
  const entries: [string, string][] = [];
  let postdeploy: string | null = null;
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
    else entries.push([type, command.trim()]);
  });

  return { processes: Object.fromEntries(entries), postdeploy };
}
