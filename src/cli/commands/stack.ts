// stack:build [--force] [--image NAME] [--mirror URL]: makes the docker
// runtime's base image on this host (Debian 12 from Debian's packages plus the
// Node.js running Slipway), without any registry. Runs locally, as root.

import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../context.ts';
import { EXIT } from '../exit-codes.ts';

interface StackOptions {
  force?: boolean;
  image?: string;
  mirror?: string;
}

export function stackCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  program
    .command('stack:build')
    .description("build the docker runtime's base image locally (mmdebstrap + docker import; docs/docker.md)")
    .option('--force', 'rebuild it even if it exists')
    .option('--image <name>', 'image name (default slipway/stack:bookworm-node<version of this Node.js>)')
    .option('--mirror <url>', 'Debian mirror (default: the one of this host)')
    .action(async (opts: StackOptions) => {
      const { buildStackImage, createEngine, probeEngine } = await import('../../runtime/docker/index.ts');
      const engine = createEngine(io.env.SLIPWAY_DOCKER_SOCKET || undefined);
      const unreachable = await probeEngine(engine);
      if (unreachable !== null) throw new CliError('cli.unreachable', `${unreachable} (is dockerd running?)`);
      try {
        const result = await buildStackImage({
          engine,
          image: opts.image,
          force: opts.force,
          mirror: opts.mirror,
          progress: (line) => io.out(line),
        });
        io.out(result.image);
      } catch (err) {
        throw new CliError(
          'stack.build_failed',
          `could not build the stack image: ${(err as Error).message}`,
          EXIT.failure,
        );
      }
    });
}
