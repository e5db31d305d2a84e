// The one place Slipway starts processes. Every process gets its own process
// group so that stopping it stops everything it started; when the main process
// exits, stragglers left in its group (`sleep 600 &`) are killed too.
// Commands are argv arrays; a user's own command (Procfile line, hook) is
// wrapped by `userShell`, the only `sh -c` in the code base.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Server, Socket } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { splitLines } from './split-lines.ts';

export type OutputStream = 'stdout' | 'stderr';

/** A minimal environment for Slipway's own helper commands (mount, tar, git). */
export const HELPER_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
};

/** PATH for app code (builds and containers): the app's own bins, the node running Slipway, the system. */
export function appSearchPath(appDir: string): string {
  return [
    path.join(appDir, 'node_modules', '.bin'),
    path.dirname(process.execPath),
    '/usr/local/bin',
    '/usr/bin',
    '/bin',
  ].join(':');
}

export interface SpawnOptions {
  readonly cwd?: string;
  /** The complete environment: nothing is inherited from the server. */
  readonly env: Readonly<Record<string, string>>;
  readonly onLine?: (stream: OutputStream, line: string) => void;
  /** Raw output as it arrives, instead of lines (a terminal's prompts have no newline). */
  readonly onData?: (stream: OutputStream, chunk: Buffer) => void;
  readonly maxLineBytes?: number;
  /**
   * `ignore` (default): stdin is /dev/null. `pipe`: the caller writes it
   * through `handle.stdin`. A stream: piped into the process's stdin.
   */
  readonly stdin?: 'ignore' | 'pipe' | Readable;
  /** Leaves stdout unsplit, as the handle's `stdout` stream (binary protocols such as git's). */
  readonly rawStdout?: boolean;
  /** Opens a Node IPC channel (JSON messages, socket handles) to a Node child: the handle's `ipc`. */
  readonly ipc?: boolean;
}

/** The IPC channel to a Node child spawned with `ipc: true`. */
export interface IpcChannel {
  /** False once the channel closed (the child exited or disconnected). */
  readonly connected: boolean;
  /** Sends a message, optionally with a listening server or a socket the child then owns too. */
  send(message: unknown, handle?: Server | Socket): void;
  onMessage(listener: (message: unknown, handle: unknown) => void): void;
}

export interface ProcessExit {
  /** Exit code; null when ended by a signal. 127 when the program could not be started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all. */
  readonly spawnError?: string;
}

export interface ProcessHandle {
  readonly pid: number | undefined;
  /** The process's stdin when spawned with `stdin: 'pipe'`, else null. */
  readonly stdin: Writable | null;
  /** The process's stdout when spawned with `rawStdout`, else null. */
  readonly stdout: Readable | null;
  /** The IPC channel when spawned with `ipc: true`, else null. */
  readonly ipc: IpcChannel | null;
  /** Settles after the main process exited, its group was killed and its output drained. */
  readonly exited: Promise<ProcessExit>;
  /** Sends a signal to the whole process group. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM to the group, SIGKILL after `graceMs` (0: SIGKILL at once). */
  stop(graceMs: number): Promise<ProcessExit>;
  /** Lets it run on without us: its pipes closed, Node free to exit while it runs (`exited` may never settle). */
  release(): void;
}

/** How long to wait for output pipes to close once every process is gone. */
const DRAIN_MS = 2000;

export function userShell(command: string): string[] {
  return ['/bin/sh', '-c', command];
}

/**
 * `userShell(command)`, held back: `/bin/sh` first waits for one line on its
 * stdin, then runs the command with stdin from /dev/null. A runtime spawns a
 * container this way ahead of time and writes the line when the command is
 * to run; if stdin closes without it, the command never runs (exit 125).
 */
export function heldUserShell(command: string): string[] {
  return ['/bin/sh', '-c', 'read -r go || exit 125; exec /bin/sh -c "$1" </dev/null', 'slipway-held', command];
}

/**
 * A user's command under a pseudo-terminal of `size`, for interactive one-off
 * runs: util-linux `script` allocates the pty and runs the command with
 * `/bin/sh -c`; stty sets the terminal size first. Stdout and stderr arrive
 * merged, as on a terminal, and `script` exits with the command's code.
 */
export function userTerminal(command: string, size: { readonly cols: number; readonly rows: number }): string[] {
  const rows = Math.trunc(size.rows);
  const cols = Math.trunc(size.cols);
  return [
    'script',
    '--quiet',
    '--flush',
    '--return',
    '--command',
    `stty rows ${rows} cols ${cols}\n${command}`,
    '/dev/null',
  ];
}

export function spawnProcess(argv: readonly string[], options: SpawnOptions): ProcessHandle {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('spawnProcess: empty argv');
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: { ...options.env },
    detached: true, // new session and process group: pgid === pid
    stdio: [
      options.stdin === undefined || options.stdin === 'ignore' ? 'ignore' : 'pipe',
      'pipe',
      'pipe',
      ...(options.ipc === true ? (['ipc'] as const) : []),
    ],
  });
  // Writing to a process that has exited fails with EPIPE; that is the process's end, not ours.
  child.stdin?.on('error', () => {});
  const input = typeof options.stdin === 'object' ? options.stdin : undefined;
  if (input && child.stdin) {
    input.on('error', () => child.stdin?.destroy());
    input.pipe(child.stdin);
  }
  const [stdout, stderr] = [child.stdout as Readable, child.stderr as Readable]; // both always piped
  const { onLine, onData } = options;
  const raw = options.rawStdout === true;
  if (onData) {
    if (!raw) stdout.on('data', (chunk: Buffer) => onData('stdout', chunk));
    stderr.on('data', (chunk: Buffer) => onData('stderr', chunk));
  } else if (onLine) {
    if (!raw) splitLines(stdout, (line) => onLine('stdout', line), options.maxLineBytes);
    splitLines(stderr, (line) => onLine('stderr', line), options.maxLineBytes);
  } else {
    if (!raw) stdout.resume();
    stderr.resume();
  }

  let running = true;
  const signalGroup = (sig: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  const exited = waitForExit(child).then(async (exit) => {
    running = false;
    signalGroup('SIGKILL'); // stragglers that outlive the main process
    await drainOutput(raw ? [stderr] : [stdout, stderr]);
    return exit;
  });

  return {
    pid: child.pid,
    stdin: options.stdin === 'pipe' ? child.stdin : null,
    stdout: raw ? stdout : null,
    ipc: options.ipc === true ? ipcChannel(child) : null,
    exited,
    signal: signalGroup,
    release() {
      for (const stream of [child.stdin, stdout, stderr]) stream?.destroy();
      child.unref();
    },
    async stop(graceMs: number) {
      if (!running) return exited;
      if (graceMs <= 0) {
        signalGroup('SIGKILL');
        return exited;
      }
      signalGroup('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          signalGroup('SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      return exited;
    },
  };
}

function ipcChannel(child: ChildProcess): IpcChannel {
  return {
    get connected() {
      return child.connected;
    },
    send(message, handle) {
      // A child that just exited fails the send (passed to the callback); `exited` reports the exit.
      if (child.connected) child.send(message as object, handle, () => {});
    },
    onMessage(listener) {
      child.on('message', listener);
    },
  };
}

function waitForExit(child: ChildProcess): Promise<ProcessExit> {
  return new Promise((resolve) => {
    child.once('error', (err) => resolve({ code: 127, signal: null, spawnError: err.message }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** A raw stdout is left to its reader (who may be slow), so only the streams read here are drained. */
async function drainOutput(owned: readonly (Readable | null)[]): Promise<void> {
  const streams = owned.filter((s): s is Readable => s !== null && !s.closed);
  if (streams.length === 0) return;
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, DRAIN_MS).unref());
  await Promise.race([Promise.all(streams.map((s) => once(s, 'close'))), timeout]);
  for (const s of streams) s.destroy();
}

export interface RunOptions extends SpawnOptions {
  /** Kill the whole group (SIGKILL) after this long. */
  readonly timeoutMs?: number;
  /** Kill the whole group (SIGKILL) when this aborts. */
  readonly signal?: AbortSignal | undefined;
}

export interface RunResult extends ProcessExit {
  readonly timedOut: boolean;
  readonly aborted: boolean;
}

/** Runs a process to completion. */
export async function runProcess(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const handle = spawnProcess(argv, options);
  let timedOut = false;
  let aborted = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          handle.signal('SIGKILL');
        }, options.timeoutMs);
  const onAbort = () => {
    aborted = true;
    handle.signal('SIGKILL');
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const exit = await handle.exited;
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  return { ...exit, timedOut, aborted };
}

/** Runs a short helper command and returns its stdout; throws with stderr on failure. */
export async function runChecked(argv: readonly string[], options: Omit<RunOptions, 'onLine'>): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const result = await runProcess(argv, {
    ...options,
    onLine: (stream, line) => (stream === 'stdout' ? out : err).push(line),
  });
  if (result.code !== 0) {
    const why = result.spawnError ?? (err.join('\n').trim() || `exit ${result.code ?? result.signal}`);
    throw new Error(`${argv.join(' ')} failed: ${why}`);
  }
  return out.join('\n');
}
