// Resizing the pseudo-terminal of a `tty` container of the process driver.
// Its main process is util-linux `script`, which holds the pty; the child it
// starts has the terminal as stdin. `stty -F` sets the new size there and the
// kernel sends SIGWINCH to the terminal's foreground programs.
//
// The child first sets the starting size itself (exec/userTerminal), so a
// resize waits until that has happened; otherwise the start would undo it.

import { readFile, readlink } from 'node:fs/promises';
import { HELPER_ENV, runChecked } from '../../exec/index.ts';

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

async function terminalOf(pid: number): Promise<string | null> {
  try {
    const [child] = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/);
    if (!child) return null;
    const path = await readlink(`/proc/${child}/fd/0`);
    return path.startsWith('/dev/pts/') ? path : null;
  } catch {
    return null; // not started yet, or already gone
  }
}

function stty(terminal: string, ...args: string[]): Promise<string> {
  return runChecked(['stty', '-F', terminal, ...args], { env: HELPER_ENV, timeoutMs: 5_000 });
}
