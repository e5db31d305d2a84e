// Entry point of `slipway git:credentials get` when bin/slipway runs the
// compiled bundle: the stored login and nothing else of the CLI is loaded.
// Its errors read as the CLI's (`error: ...`, the same exit codes).

import { CliError } from './cli-error.ts';
import { credentialAnswer } from './git-credentials.ts';

try {
  process.stdout.write(`${credentialAnswer(process.env)}\n`);
} catch (err) {
  if (!(err instanceof CliError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = err.exitCode;
}
