// Human output: aligned tables, and the injectable streams the CLI writes to
// (so tests can run commands in process).

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org) or TERM=dumb. */
  readonly color: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  cwd: process.cwd(),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb',
};

const GREEN = ['success', 'up'];
const YELLOW = ['queued', 'building', 'pushing', 'starting', 'stopping'];

/** A status or state word, coloured green/yellow/red on a colour terminal. */
export function paintStatus(io: Io, word: string): string {
  if (!io.color) return word;
  const code = GREEN.includes(word) ? 32 : YELLOW.includes(word) ? 33 : 31;
  return `\x1b[${code}m${word}\x1b[0m`;
}

export function table(
  rows: readonly (readonly (string | number | null | undefined)[])[],
  headers: readonly string[],
): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => visibleLength(r[i] ?? ''))));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(c)))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** Length without ANSI colour codes. */
function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}
