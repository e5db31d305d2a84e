// Opens the docker runtime for one Slipway home: dockerd must answer, the
// stack image must exist (`slipway stack:build`), and the home's network is
// made (or found). Every failure says what to do.

import type { Logger } from 'pino';
import type { LayerImages } from '../sandbox/layer-images.ts';
import type { RuntimeDriver } from '../types.ts';
import { createDockerDriver } from './docker-driver.ts';
import { type DockerNetwork, openDockerNetwork } from './docker-network.ts';
import { createEngine, probeEngine } from './engine.ts';
import { DEFAULT_STACK_IMAGE, stackImageExists } from './stack-image.ts';

export interface OpenDockerOptions {
  /** The home's key (12 hex digits): names its network, containers and labels. */
  readonly key: string;
  /** The home's path, recorded on its network (see openDockerNetwork). */
  readonly home?: string;
  readonly containersDir: string;
  readonly volumesDir?: string;
  /** Makes volumes' size-bounded images (the sandbox's, when this host runs it). */
  readonly layers?: LayerImages | null;
  readonly socket?: string;
  readonly image?: string;
  readonly logger?: Logger;
}

export async function openDocker(
  options: OpenDockerOptions,
): Promise<{ runtime: RuntimeDriver; network: DockerNetwork } | { missing: string }> {
  const engine = createEngine(options.socket);
  const unreachable = await probeEngine(engine);
  if (unreachable !== null) return { missing: `${unreachable} (is dockerd running?)` };
  const image = options.image ?? DEFAULT_STACK_IMAGE;
  if (!(await stackImageExists(engine, image)))
    return { missing: `the stack image ${image} does not exist: build it with \`slipway stack:build\`` };
  const network = await openDockerNetwork(engine, options.key, options.home);
  const runtime = createDockerDriver({
    engine,
    network,
    key: options.key,
    image,
    containersDir: options.containersDir,
    volumesDir: options.volumesDir,
    layers: options.layers,
    logger: options.logger,
  });
  return { runtime, network };
}
