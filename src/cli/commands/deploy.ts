// deploy [DIR|ARCHIVE.tar.gz|URL]: upload (or have the server fetch a URL: a
// tarball or a git repository + --ref), then stream the deployment log live;
// exits 0 only when the deployment succeeds.

import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { DeploymentJson } from '../../core/api-json.ts';
import { DIRTY_SUFFIX } from '../../core/commit-sha.ts';
import { displayUrl } from '../../core/display-url.ts';
import { formatBytes } from '../../core/format-bytes.ts';
import type { ApiClient } from '../api-client.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { followToOutcome } from '../follow-deployment.ts';
import type { WorkTreeCommit } from '../git-worktree.ts';
import { openArchive, packDirectory } from '../pack-source.ts';
import type { SourceSelection } from '../select-source-files.ts';

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
      const say = (line: string) => {
        if (!opts.json) io.out(line);
      };
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
        // The server fetches it (and refuses anything but http and https).
        const client = ctx.client();
        const deployment = await withApp(client, app, opts.create === true, say, () => {
          say(`-----> Asking the server to fetch ${displayUrl(source)} for ${app}`);
          return client.request<DeploymentJson>('POST', `/api/apps/${app}/deployments`, {
            json: { source_url: source, ...(opts.ref ? { git_ref: opts.ref } : {}) },
          });
        });
        await followToOutcome(client, io, deployment, opts.json, setExit);
        return;
      }
      const full = path.resolve(io.cwd, source);
      if (!fs.existsSync(full)) throw new CliError('cli.usage', `${source}: no such file or directory`);
      // Packed (and checked) before anything is asked of the server, the app's creation included.
      const packed = fs.statSync(full).isDirectory() ? await packDirectory(full, io.env) : null;
      const archive = packed ?? openArchive(full);
      const query = new URLSearchParams();
      try {
        if (packed) {
          for (const line of describePacking(source, packed.selection)) say(line);
          const commit = packed.selection.commit;
          if (commit) query.set('commit_sha', commit.dirty ? `${commit.sha}${DIRTY_SUFFIX}` : commit.sha);
          if (commit?.ref && !opts.ref) query.set('git_ref', commit.ref);
        }
        if (opts.ref) query.set('git_ref', opts.ref);
        const client = ctx.client();
        const deployment = await withApp(client, app, opts.create === true, say, () => {
          say(`-----> Uploading ${source} to ${app} (${formatBytes(archive.size)})`);
          return client.request<DeploymentJson>(
            'POST',
            `/api/apps/${app}/deployments${query.size ? `?${query}` : ''}`,
            {
              body: archive.open(),
              contentType: 'application/gzip',
              contentLength: archive.size,
            },
          );
        });
        archive.cleanup(); // now, rather than after a long deployment
        await followToOutcome(client, io, deployment, opts.json, setExit);
      } finally {
        archive.cleanup();
      }
    });
}

function describePacking(source: string, selection: SourceSelection): string[] {
  const { commit } = selection;
  const files = `${selection.files} file${selection.files === 1 ? '' : 's'}`;
  const what =
    selection.how === 'git'
      ? `${source} as git sees it: ${files}${commit ? ` (${commitSummary(commit)})` : ' (no commit yet)'}`
      : `${source}: ${files} (not a git work tree)`;
  return [`-----> Packing ${what}`, ...selection.notes.map((note) => `       ${note}`)];
}

function commitSummary(commit: WorkTreeCommit): string {
  const at = `${commit.ref ?? 'detached HEAD'} at ${commit.sha.slice(0, 7)}`;
  return commit.dirty ? `${at}, with uncommitted changes: recorded as ${commit.sha.slice(0, 7)}${DIRTY_SUFFIX}` : at;
}

/**
 * Runs `send` against the app; with `create`, creates the app first when it
 * does not exist, and removes it again when `send` is refused and the new app
 * is still empty, so that a failed first deploy leaves nothing behind.
 */
async function withApp<T>(
  client: ApiClient,
  app: string,
  create: boolean,
  say: (line: string) => void,
  send: () => Promise<T>,
): Promise<T> {
  const created = create && (await createIfMissing(client, app));
  if (created) say(`-----> Created app ${app}`);
  try {
    return await send();
  } catch (err) {
    if (created) await removeIfEmpty(client, app, say, err);
    throw err;
  }
}

async function createIfMissing(client: ApiClient, app: string): Promise<boolean> {
  try {
    await client.request('GET', `/api/apps/${app}`);
    return false;
  } catch (err) {
    if (!(err instanceof CliError && err.code === 'app.not_found')) throw err;
    await client.request('POST', '/api/apps', { json: { name: app } });
    return true;
  }
}

/** Removes a just-created app that `failure` left empty; if that fails too, the user learns both. */
async function removeIfEmpty(client: ApiClient, app: string, say: (line: string) => void, failure: unknown) {
  try {
    // A deployment may exist all the same (the answer was lost on the way): then the app stays.
    const deployments = await client.request<DeploymentJson[]>('GET', `/api/apps/${app}/deployments`);
    if (deployments.length > 0) return;
    await client.request('DELETE', `/api/apps/${app}`);
    say(`-----> Removed app ${app} again: nothing was deployed to it`);
  } catch (cleanup) {
    const code = failure instanceof CliError ? failure.code : 'internal';
    throw new CliError(
      code,
      `${(failure as Error).message}\n(the app ${app}, created for this deployment, could not be removed: ${(cleanup as Error).message}; remove it with slipway apps:destroy --confirm ${app})`,
    );
  }
}
