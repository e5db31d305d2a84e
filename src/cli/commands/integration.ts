// integration:github [OWNER/REPO]: links the app to a GitHub repository (a
// push to the branch deploys it with --auto-deploy; commit statuses with a
// token), shows the link, or removes it (--remove). The webhook secret is
// printed once, when it is generated; the token is never printed.

import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { loadCredentials } from '../credentials.ts';

interface LinkJson {
  app: string;
  repo: string;
  branch: string;
  auto_deploy: boolean;
  has_token: boolean;
  webhook_path: string;
  webhook_secret?: string;
}

interface Options {
  app?: string;
  branch?: string;
  autoDeploy?: boolean;
  token?: string;
  remove?: boolean;
  json?: boolean;
}

export function integrationCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('integration:github')
    .description('link the app to a GitHub repository: pushes deploy, commit statuses report the outcome')
    .argument('[repo]', 'OWNER/REPO (without it: show the current link)')
    .option('-a, --app <app>', 'app name')
    .option('-b, --branch <branch>', 'the branch whose pushes deploy', 'main')
    .option('--auto-deploy', 'deploy every push to the branch (off: pushes are acknowledged, not deployed)')
    .option('--token <token>', 'GitHub token for commit statuses and private repositories (default: $GITHUB_TOKEN)')
    .option('--remove', 'unlink the app')
    .option('--json', 'output JSON')
    .action(async (repo: string | undefined, opts: Options) => {
      const app = ctx.app(opts.app);
      const client = ctx.client();
      const path = `/api/apps/${app}/integrations/github`;
      if (opts.remove) {
        await client.request('DELETE', path);
        return io.out(`${app} is no longer linked to GitHub (remove the webhook on GitHub too)`);
      }
      if (!repo) {
        const link = await client.request<LinkJson>('GET', path);
        return io.out(opts.json ? JSON.stringify(link, null, 2) : describe(link));
      }
      if (!/^[^/\s]+\/[^/\s]+$/.test(repo)) throw new CliError('cli.usage', 'give the repository as OWNER/REPO');
      const token = opts.token ?? io.env.GITHUB_TOKEN;
      const link = await client.request<LinkJson>('PUT', path, {
        json: { repo, branch: opts.branch, auto_deploy: opts.autoDeploy === true, ...(token ? { token } : {}) },
      });
      if (opts.json) return io.out(JSON.stringify(link, null, 2));
      io.out(describe(link));
      if (link.webhook_secret) {
        io.out('');
        io.out(`Add a webhook to ${link.repo} (Settings > Webhooks > Add webhook):`);
        io.out(`  Payload URL:   ${loadCredentials(io.env).url}${link.webhook_path}`);
        io.out('  Content type:  application/json');
        io.out(`  Secret:        ${link.webhook_secret}`);
        io.out('  Events:        Just the push event');
        io.out('The secret is shown only now: keep it until the webhook is added.');
      }
    });
}

function describe(link: LinkJson): string {
  return [
    `${link.app} is linked to ${link.repo}, branch ${link.branch}`,
    `  auto-deploy:     ${link.auto_deploy ? 'on' : 'off'}`,
    `  commit statuses: ${link.has_token ? 'on (token stored)' : 'off (no token)'}`,
  ].join('\n');
}
