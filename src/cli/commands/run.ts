// run [-a APP] [--env K=V]... [--detached] -- COMMAND...: a one-off container
// of the current release. Its output streams here and the CLI exits with the
// command's exit code; detached, it runs in the background with its output in
// the app log. When stdin is a terminal, the run is interactive: keystrokes
// and output go over a WebSocket to a remote pseudo-terminal; otherwise stdin
// is closed.

import os from 'node:os';
import type { Command } from 'commander';
import type { RunDetachedJson, RunExitJson, RunOutputJson } from '../../core/api-json.ts';
import { attachTerminal } from '../attach-terminal.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { loadCredentials } from '../credentials.ts';
import { EXIT } from '../exit-codes.ts';
import { shellQuote } from '../self-command.ts';

interface RunOptions {
  app?: string;
  env: string[];
  detached?: boolean;
  tty: boolean;
  release?: string;
}

export function runCommand(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  program
    .command('run')
    .description("run a command in a one-off container of the current release, with the app's environment")
    .argument('<command...>', 'the command; put it after `--` when it has options of its own')
    .option('-a, --app <app>', 'app name')
    .option('-e, --env <KEY=VALUE>', 'a variable for this run only (repeatable)', collect, [])
    .option('-d, --detached', 'run in the background; the output goes to the app log')
    .option('--no-tty', 'do not attach this terminal even when stdin is one (stdin stays closed)')
    .option(
      '--release <vN>',
      'run on this release, live or not (default: the live release; with none yet, the newest, e.g. a failed first deploy)',
    )
    .action(async (words: string[], opts: RunOptions) => {
      const app = ctx.app(opts.app);
      const body = { command: commandLine(words), env: parseEnv(opts.env), release: opts.release };
      await runInContainer(ctx, app, body, opts, setExit);
    });
}

/**
 * Runs `body.command` in a one-off container (pg:psql does too): detached, attached to this
 * terminal when stdin is one, else streamed; sets the command's exit code.
 */
export async function runInContainer(
  ctx: CommandContext,
  app: string,
  body: { readonly command: string; readonly env: Record<string, string>; readonly release?: string | undefined },
  opts: { readonly detached?: boolean | undefined; readonly tty: boolean },
  setExit: (code: number) => void,
): Promise<void> {
  const { io } = ctx;
  // Said on stderr, so that the command's own output stays as it is.
  const sayRelease = (started: RunDetachedJson) => {
    if (!started.current) io.err(`Running on ${started.release}, which is not ${app}'s live release.`);
  };
  const client = ctx.client();
  if (opts.detached) {
    const run = await client.request<RunDetachedJson>('POST', `/api/apps/${app}/run`, {
      json: { ...body, detached: true },
    });
    io.out(
      `Running \`${body.command}\` on ${app} as ${run.container} (${run.release}${run.current ? '' : ', not the live release'}), detached.`,
    );
    io.out('Its output goes to the app log.');
    return;
  }
  if (opts.tty && process.stdin.isTTY) {
    const env = io.env.TERM && !('TERM' in body.env) ? { TERM: io.env.TERM, ...body.env } : body.env;
    const exit = await attachTerminal(loadCredentials(io.env), app, { ...body, env, onStarted: sayRelease });
    return setExit(exitCodeOfRun(exit));
  }
  let exit: RunExitJson | undefined;
  await client.events(
    `/api/apps/${app}/run`,
    (event, data) => {
      if (event === 'started') sayRelease(JSON.parse(data) as RunDetachedJson);
      else if (event === 'exit') exit = JSON.parse(data) as RunExitJson;
      else if (event === 'output') {
        const { stream, line } = JSON.parse(data) as RunOutputJson;
        if (stream === 'stderr') io.err(line);
        else io.out(line);
      }
    },
    { method: 'POST', json: body },
  );
  if (!exit) throw new CliError('internal', 'the connection to Slipway ended before the command finished');
  setExit(exitCodeOfRun(exit));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * One word is a shell command line, run as written (`'echo $HOME && ls'`);
 * several words are an argv, quoted so the container's shell sees exactly them.
 */
export function commandLine(words: readonly string[]): string {
  if (words.length === 1) return words[0] ?? '';
  return words.map(shellQuote).join(' ');
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError('cli.usage', `--env expects KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** The command's own exit code; killed by a signal, 128 + its number as a shell reports it. */
function exitCodeOfRun(exit: RunExitJson): number {
  if (exit.code !== null) return exit.code;
  const number = exit.signal ? os.constants.signals[exit.signal as NodeJS.Signals] : undefined;
  return number === undefined ? EXIT.failure : 128 + number;
}
