// buildpacks, buildpacks:set, buildpacks:add, buildpacks:remove, buildpacks:clear,
// builds:clear-cache

import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';

interface BuildpacksJson {
  buildpacks: string[];
}

interface ListOptions {
  app?: string;
  index?: string;
}

/** A change of the list: the new list, from the current one and the command's argument. */
type Edit = (list: string[], buildpack: string, opts: ListOptions, app: string) => string[];

export function buildpackCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const path = (app: string) => `/api/apps/${app}/buildpacks`;
  const get = async (app: string) => (await ctx.client().request<BuildpacksJson>('GET', path(app))).buildpacks;
  const show = (app: string, list: readonly string[]) => {
    if (list.length === 0) {
      io.out(`${app} has no buildpacks set: each build uses the first built-in that detects the app`);
      io.out('(unless BUILDPACK_URL, .buildpacks or app.json names some).');
      return;
    }
    io.out(`=== ${app} buildpacks`);
    for (const [i, bp] of list.entries()) io.out(`${i + 1}. ${bp}`);
  };

  /** A command that edits the list: reads it, applies `edit`, stores and shows the result. */
  const change = (name: string, description: string, edit: Edit, withArgument = true) => {
    const command = program.command(name).description(description).option('-a, --app <app>', 'app name');
    if (withArgument) command.argument('<buildpack>', 'a built-in name (nodejs), or a git URL with an optional #ref');
    if (name === 'buildpacks:add') command.option('-i, --index <n>', 'its place in the list, from 1');
    command.action(async (...args: unknown[]) => {
      const buildpack = withArgument ? (args[0] as string) : '';
      const opts = args[withArgument ? 1 : 0] as ListOptions;
      const app = ctx.app(opts.app);
      const next = edit(withArgument ? await get(app) : [], buildpack, opts, app);
      const stored = await ctx.client().request<BuildpacksJson>('PUT', path(app), { json: { buildpacks: next } });
      show(app, stored.buildpacks);
    });
  };

  program
    .command('buildpacks')
    .description("list the buildpacks the app's builds run")
    .option('-a, --app <app>', 'app name')
    .option('--json', 'output JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = ctx.app(opts.app);
      const list = await get(app);
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      show(app, list);
    });

  change('buildpacks:set', 'run this buildpack only, from the next build on', (_list, buildpack) => [buildpack]);
  change('buildpacks:add', 'add a buildpack (at the end, or at --index N)', (list, buildpack, opts) => {
    const at = opts.index === undefined ? list.length : Number(opts.index) - 1;
    if (!Number.isInteger(at) || at < 0 || at > list.length)
      throw new CliError('cli.usage', `--index must be a number from 1 to ${list.length + 1}`);
    return list.toSpliced(at, 0, buildpack);
  });
  change('buildpacks:remove', 'remove a buildpack from the list', (list, buildpack, _opts, app) => {
    if (!list.includes(buildpack)) throw new CliError('cli.usage', `${buildpack} is not one of ${app}'s buildpacks`);
    return list.filter((bp) => bp !== buildpack);
  });
  change(
    'buildpacks:clear',
    'clear the list: builds use BUILDPACK_URL, .buildpacks, app.json, or detect a built-in',
    () => [],
    false,
  );

  program
    .command('builds:clear-cache')
    .description("empty the app's build cache: the next build starts without it")
    .option('-a, --app <app>', 'app name')
    .action(async (opts: { app?: string }) => {
      const app = ctx.app(opts.app);
      await ctx.client().request('DELETE', `/api/apps/${app}/build-cache`);
      io.out(`Cleared the build cache of ${app}: the next build starts without it.`);
    });
}
