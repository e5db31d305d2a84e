// Resizing the pseudo-terminal of a `tty` container (both drivers). Its
// command runs under util-linux `script`, which holds the pty; the child it
// starts has the terminal as stdin. `stty -F /proc/<child>/fd/0` sets the new
// size there (this works from the host even for a terminal in a sandbox's own
// /dev/pts) and the kernel sends SIGWINCH to the terminal's foreground programs.
//
// The child first sets the starting size itself (exec/userTerminal), so a
// resize waits until that has happened; otherwise the start would undo it.

import { readFile, readlink } from 'node:fs/promises';
import { HELPER_ENV, runChecked } from '../exec/index.ts';

type Size = { readonly cols: number; readonly rows: number };

const WAIT_MS = 3_000;
const POLL_MS = 20;

export function terminalResizer(pid: number | undefined, initial: Size): (size: Size) => Promise<void> {
  let terminal: Promise<string | null> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return (size) => {
    terminal ??= startedTerminal(pid, initial);
    const found = terminal;
    const resized = queue.then(async () => {
      const path = await found;
      if (path !== null) await stty(path, 'rows', String(size.rows), 'cols', String(size.cols));
    });
    queue = resized.catch(() => {}); // one failed resize does not block the next; the caller sees its error
    return resized;
  };
}

/** The container's terminal once it has its starting size; null when it is gone. */
async function startedTerminal(pid: number | undefined, initial: Size): Promise<string | null> {
  if (pid === undefined) return null;
  const deadline = Date.now() + WAIT_MS;
  const expected = `${initial.rows} ${initial.cols}`;
  for (;;) {
    const path = await terminalOf(pid);
    if (path !== null && (await stty(path, 'size').catch(() => '')) === expected) return path;
    if (Date.now() > deadline) return path;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The stdin of the first process below `pid` (breadth first, a few levels) whose stdin is a pty. */
async function terminalOf(pid: number): Promise<string | null> {
  let level = [pid];
  for (let depth = 0; depth < 6 && level.length > 0; depth++) {
    const next: number[] = [];
    for (const p of level) {
      const fd0 = `/proc/${p}/fd/0`;
      if (p !== pid && (await readlink(fd0).catch(() => '')).startsWith('/dev/pts/')) return fd0;
      const children = await readFile(`/proc/${p}/task/${p}/children`, 'utf8').catch(() => '');
      next.push(...children.trim().split(/\s+/).filter(Boolean).map(Number));
    }
    level = next;
  }
  return null; // not started yet, or already gone
}

function stty(terminal: string, ...args: string[]): Promise<string> {
  return runChecked(['stty', '-F', terminal, ...args], { env: HELPER_ENV, timeoutMs: 5_000 });
}
