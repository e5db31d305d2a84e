// Opens the swarm runtime for one Slipway home: dockerd must answer, be a
// manager of an active swarm (`docker swarm init`), and have the stack image
// (`slipway stack:build`), from which each release's image is made. Every
// failure says what to do.

import type { Logger } from 'pino';
import { createEngine, type Engine, probeEngine } from '../docker/engine.ts';
import { DEFAULT_STACK_IMAGE, stackImageExists } from '../docker/stack-image.ts';
import type { RuntimeDriver } from '../types.ts';
import { sharedBridgeMessage, sharedBridges } from './bridge-check.ts';
import { saveLoadToNodes } from './distribute-image.ts';
import { createReleaseImages, type ReleaseImages } from './release-image.ts';
import { createSwarmDriver } from './swarm-driver.ts';

export interface OpenSwarmOptions {
  /** The home's key (12 hex digits): names its services, images and labels. */
  readonly key: string;
  readonly containersDir: string;
  readonly socket?: string;
  readonly image?: string;
  readonly stopGraceMs?: number;
  readonly logger?: Logger;
  /** The other nodes' dockerd sockets: each release image is `docker save | docker load`ed into them. */
  readonly nodes?: readonly string[];
  /** Run even where the default bridge lets containers reach one another (else: refused, bridge-check.ts). */
  readonly sharedBridge?: boolean;
}

/** Null when the engine is a manager of an active swarm, else what to do. */
export async function swarmMissing(engine: Engine): Promise<string | null> {
  const unreachable = await probeEngine(engine);
  if (unreachable !== null) return `${unreachable} (is dockerd running?)`;
  const info = await engine.request<{ Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } }>(
    'GET',
    '/info',
  );
  if (info.Swarm?.LocalNodeState !== 'active')
    return 'this dockerd is not in a swarm: run `docker swarm init --advertise-addr <this host address>` (docs/scale-out.md)';
  if (!info.Swarm.ControlAvailable) return 'this dockerd is a swarm worker: Slipway needs a manager node';
  return null;
}

export async function openSwarm(
  options: OpenSwarmOptions,
): Promise<{ runtime: RuntimeDriver; images: ReleaseImages } | { missing: string }> {
  const engine = createEngine(options.socket);
  const missing = await swarmMissing(engine);
  if (missing !== null) return { missing };
  const image = options.image ?? DEFAULT_STACK_IMAGE;
  if (!(await stackImageExists(engine, image)))
    return { missing: `the stack image ${image} does not exist: build it with \`slipway stack:build\`` };
  const nodes = options.nodes ?? [];
  const shared = await sharedBridges([engine, ...nodes.map((socket) => createEngine(socket))]);
  if (shared.length > 0) {
    if (!options.sharedBridge) return { missing: sharedBridgeMessage(shared) };
    options.logger?.warn(
      { nodes: shared },
      'SLIPWAY_SWARM_SHARED_BRIDGE: tasks run on default bridges where containers reach one another (docs/scale-out.md)',
    );
  }
  const distribute = nodes.length > 0 ? saveLoadToNodes(engine, nodes, options.logger) : undefined;
  const images = createReleaseImages(engine, options.key, image, { distribute });
  const runtime = createSwarmDriver({
    engine,
    key: options.key,
    images,
    containersDir: options.containersDir,
    stopGraceMs: options.stopGraceMs,
    logger: options.logger,
  });
  return { runtime, images };
}
