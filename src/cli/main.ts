// The `slipway` command. `runCli` takes its IO as an argument so tests run
// commands in process; the bottom of the file is the real entry point.

import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.ts';
import { addonCommands } from './commands/addons.ts';
import { appCommands } from './commands/apps.ts';
import { backupCommands } from './commands/backups.ts';
import { buildpackCommands } from './commands/buildpacks.ts';
import { certCommands } from './commands/certs.ts';
import { deployCommand } from './commands/deploy.ts';
import { deploymentCommands } from './commands/deployments.ts';
import { domainCommands } from './commands/domains.ts';
import { envCommands } from './commands/env.ts';
import { gitCommands } from './commands/git.ts';
import { integrationCommands } from './commands/integration.ts';
import { loginCommand } from './commands/login.ts';
import { logsCommand } from './commands/logs.ts';
import { pgInfoCommand } from './commands/pg-info.ts';
import { pgPsqlCommand } from './commands/pg-psql.ts';
import { processCommands } from './commands/processes.ts';
import { releaseCommands } from './commands/releases.ts';
import { runCommand } from './commands/run.ts';
import { serverCommand } from './commands/server.ts';
import { stackCommands } from './commands/stack.ts';
import { volumeCommands } from './commands/volumes.ts';
import { commandContext } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { type Io, processIo } from './output.ts';

export async function runCli(argv: readonly string[], io: Io = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const ctx = commandContext(io);
  const program = new Command('slipway')
    .description('Slipway: push code, run the postdeploy hook, switch traffic only when it succeeds')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError();
  const setExit = (code: number) => {
    exitCode = code;
  };
  serverCommand(program, ctx);
  loginCommand(program, ctx);
  appCommands(program, ctx);
  deployCommand(program, ctx, setExit);
  deploymentCommands(program, ctx, setExit);
  envCommands(program, ctx, setExit);
  addonCommands(program, ctx, setExit);
  volumeCommands(program, ctx, setExit);
  backupCommands(program, ctx);
  pgPsqlCommand(program, ctx, setExit);
  pgInfoCommand(program, ctx);
  releaseCommands(program, ctx, setExit);
  processCommands(program, ctx);
  domainCommands(program, ctx);
  certCommands(program, ctx);
  buildpackCommands(program, ctx);
  logsCommand(program, ctx);
  runCommand(program, ctx, setExit);
  gitCommands(program, ctx);
  integrationCommands(program, ctx);
  stackCommands(program, ctx);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.includes('.')) {
      io.err(`error: ${err.message}`); // a SlipwayError raised locally (e.g. bad server settings)
      return EXIT.invalidInput;
    }
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failure;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
