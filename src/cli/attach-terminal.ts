// Interactive `slipway run`: when stdin is a terminal, the run goes over a
// WebSocket (GET /api/apps/:app/run/attach) under a remote pseudo-terminal.
// The local terminal is put in raw mode, so every key (Ctrl-C included) goes
// to the remote command, and restored when the run ends. The remote terminal
// gets the local size at start and follows its changes.

import WebSocket from 'ws';
import type { RunAttachClientMessage, RunAttachServerMessage, RunDetachedJson, RunExitJson } from '../core/api-json.ts';
import { CliError } from './cli-error.ts';
import type { Credentials } from './credentials.ts';

export interface TerminalRun {
  readonly command: string;
  readonly env: Record<string, string>;
  /** `v3`; default: the server's choice (the live release, else the newest). */
  readonly release?: string;
  /** Once the container runs: its name and release. */
  readonly onStarted?: (started: RunDetachedJson) => void;
}

/** Runs the command attached to this terminal; resolves with how it ended. */
export function attachTerminal(credentials: Credentials, app: string, run: TerminalRun): Promise<RunExitJson> {
  const url = `${credentials.url.replace(/^http/, 'ws')}/api/apps/${app}/run/attach`;
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${credentials.token}` } });
  const { stdin, stdout } = process;
  const wasRaw = stdin.isRaw;

  return new Promise<RunExitJson>((resolve, reject) => {
    let exit: RunExitJson | undefined;
    let failure: Error | undefined;
    const forwardInput = (chunk: Buffer) => socket.send(chunk, { binary: true });
    const forwardSize = () => {
      const resize: RunAttachClientMessage = { type: 'resize', cols: stdout.columns || 80, rows: stdout.rows || 24 };
      socket.send(JSON.stringify(resize));
    };

    socket.on('unexpected-response', (request, response) => {
      const connection = response.socket;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (c: string) => {
        text += c;
      });
      response.on('end', () => {
        let error: { code?: string; message?: string } | undefined;
        try {
          error = JSON.parse(text).error;
        } catch {
          // not a Slipway error body
        }
        // The upgrade was refused: nothing was attached yet. The connection
        // would go back to a keep-alive pool and hold the CLI open: close it.
        connection.destroy();
        request.destroy();
        reject(new CliError(error?.code ?? 'internal', error?.message ?? `HTTP ${response.statusCode}`));
      });
    });
    socket.on('error', (err) => {
      const reason = (err as NodeJS.ErrnoException).code ?? err.message;
      failure ??= new CliError('cli.unreachable', `cannot reach Slipway at ${credentials.url} (${reason})`);
    });
    socket.on('open', () => {
      const start: RunAttachClientMessage = {
        type: 'start',
        command: run.command,
        env: run.env,
        release: run.release,
        cols: stdout.columns || 80,
        rows: stdout.rows || 24,
      };
      socket.send(JSON.stringify(start));
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.on('data', forwardInput);
      stdout.on('resize', forwardSize);
      stdin.resume();
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        stdout.write(data);
        return;
      }
      const message = JSON.parse(data.toString('utf8')) as RunAttachServerMessage;
      if (message.type === 'started') run.onStarted?.(message);
      else if (message.type === 'exit') exit = { code: message.code, signal: message.signal };
      else if (message.type === 'error') failure = new CliError(message.error.code, message.error.message);
    });
    socket.on('close', () => {
      stdin.off('data', forwardInput);
      stdout.off('resize', forwardSize);
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdin.pause();
      if (exit) resolve(exit);
      else reject(failure ?? new CliError('internal', 'the connection to Slipway ended before the command finished'));
    });
  });
}
