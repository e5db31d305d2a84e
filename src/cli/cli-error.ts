// An error the CLI reports to the user as `error: <message>` with an exit code.

import { exitCodeOf } from './exit-codes.ts';

export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = exitCodeOf(code)) {
    super(message);
    this.code = code;
    this.exitCode = exitCode;
  }
}
