// What every command gets: the IO streams, the API client, the app name.

import { ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';
import { loadCredentials } from './credentials.ts';
import { appFromGitRemote } from './git-info.ts';
import type { Io } from './output.ts';

export interface CommandContext {
  readonly io: Io;
  client(): ApiClient;
  app(option: string | undefined): string;
  /**
   * The app of a destructive command, which runs only when `--confirm` repeats its name;
   * otherwise the error says what would be lost (`consequence`) and how to confirm.
   */
  confirmedApp(opts: { app?: string; confirm?: string }, consequence: (app: string) => string): string;
}

export function commandContext(io: Io): CommandContext {
  return {
    io,
    client: () => new ApiClient(loadCredentials(io.env)),
    app(option) {
      const app = option || io.env.SLIPWAY_APP || appFromGitRemote(io.cwd);
      if (!app) throw new CliError('cli.usage', 'no app given: pass -a APP (or add a git remote named "slipway")');
      return app;
    },
    confirmedApp(opts, consequence) {
      const app = this.app(opts.app ?? opts.confirm);
      if (opts.confirm !== app) {
        throw new CliError('cli.usage', `${consequence(app)}: run again with --confirm ${app}`);
      }
      return app;
    },
  };
}
