// deploy [DIR|ARCHIVE.tar.gz|URL]: upload (or have the server fetch a URL: a
// tarball or a git repository + --ref), then stream the deployment log live;
// exits 0 only when the deployment succeeds.

import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { DeploymentJson } from '../../core/api-json.ts';
import { displayUrl } from '../../core/display-url.ts';
import { formatBytes } from '../../core/format-bytes.ts';
import type { ApiClient } from '../api-client.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { followToOutcome } from '../follow-deployment.ts';
import { headCommit } from '../git-info.ts';
import { openArchive, packDirectory } from '../pack-source.ts';

export function deployCommand(program: Command, ctx: CommandContext, setExit: (code: number) => void): void {
  program
    .command('deploy')
    .description(
      'deploy a directory, a .tar.gz archive or an http(s) URL (tarball or git repository) and stream the log',
    )
    .argument('[source]', 'directory, .tar.gz archive, or http(s) URL', '.')
    .option('-a, --app <app>', 'app name')
    .option('--ref <ref>', 'git ref to record with the deployment (for a git URL: the branch, tag or commit to deploy)')
    .option('--create', 'create the app first if it does not exist')
    .option('--json', 'print the final deployment as JSON instead of the log')
    .action(async (source: string, opts: { app?: string; ref?: string; json?: boolean; create?: boolean }) => {
      const { io } = ctx;
      const app = ctx.app(opts.app);
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
        // The server fetches it (and refuses anything but http and https).
        const client = ctx.client();
        if (opts.create) await createIfMissing(client, app, (line) => io.out(line));
        if (!opts.json) io.out(`-----> Asking the server to fetch ${displayUrl(source)} for ${app}`);
        const deployment = await client.request<DeploymentJson>('POST', `/api/apps/${app}/deployments`, {
          json: { source_url: source, ...(opts.ref ? { git_ref: opts.ref } : {}) },
        });
        await followToOutcome(client, io, deployment, opts.json, setExit);
        return;
      }
      const full = path.resolve(io.cwd, source);
      if (!fs.existsSync(full)) throw new CliError('cli.usage', `${source}: no such file or directory`);
      const isDir = fs.statSync(full).isDirectory();
      const commit = isDir ? headCommit(full) : null;
      const query = new URLSearchParams();
      if (commit) query.set('commit_sha', commit.sha);
      const ref = opts.ref ?? commit?.ref;
      if (ref) query.set('git_ref', ref);

      const client = ctx.client();
      if (opts.create) await createIfMissing(client, app, (line) => io.out(line));
      const archive = isDir ? await packDirectory(full) : openArchive(full);
      let deployment: DeploymentJson;
      try {
        if (!opts.json) io.out(`-----> Uploading ${source} to ${app} (${formatBytes(archive.size)})`);
        deployment = await client.request<DeploymentJson>(
          'POST',
          `/api/apps/${app}/deployments${query.size ? `?${query}` : ''}`,
          {
            body: archive.stream,
            contentType: 'application/gzip',
            contentLength: archive.size,
          },
        );
      } finally {
        archive.cleanup();
      }
      await followToOutcome(client, io, deployment, opts.json, setExit);
    });
}

async function createIfMissing(client: ApiClient, app: string, say: (line: string) => void): Promise<void> {
  try {
    await client.request('GET', `/api/apps/${app}`);
  } catch (err) {
    if (!(err instanceof CliError && err.code === 'app.not_found')) throw err;
    await client.request('POST', '/api/apps', { json: { name: app } });
    say(`-----> Created app ${app}`);
  }
}
