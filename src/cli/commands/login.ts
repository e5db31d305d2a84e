// slipway login --url URL --token T: checks the token, then stores both.

import type { Command } from 'commander';
import { ApiClient } from '../api-client.ts';
import type { CommandContext } from '../context.ts';
import { saveCredentials, serverUrl } from '../credentials.ts';

export function loginCommand(program: Command, ctx: CommandContext): void {
  program
    .command('login')
    .description('store the server URL and API token for later commands')
    .requiredOption('--url <url>', 'Slipway API URL, e.g. http://127.0.0.1:5100')
    .requiredOption('--token <token>', 'API token printed at first start')
    .action(async (opts: { url: string; token: string }) => {
      const credentials = { url: serverUrl(opts.url), token: opts.token };
      await new ApiClient(credentials).request('GET', '/api/apps');
      const file = saveCredentials(ctx.io.env, credentials);
      ctx.io.out(`Logged in to ${credentials.url} (saved in ${file})`);
    });
}
