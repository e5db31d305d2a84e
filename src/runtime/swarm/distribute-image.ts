// The registry-less way a release image reaches the swarm's other nodes
// (`SLIPWAY_SWARM_NODES`, docs/scale-out.md): `docker save` of the image from
// the manager streamed into `docker load` of each listed node's dockerd, all
// nodes at once, before any task uses the image. A node whose dockerd cannot be
// reached (a node that is down) is skipped with a warning: Swarm places no task
// there while it is down. Any other failure fails the image, hence the start.

import type { Logger } from 'pino';
import { createEngine, type Engine } from '../docker/engine.ts';
import { downloadStream, uploadTar } from './engine-stream.ts';

/** Errors of a socket nobody answers on: the node (or its dockerd) is down. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ETIMEDOUT']);

export function saveLoadToNodes(
  manager: Engine,
  nodes: readonly string[],
  logger?: Logger,
): (image: string) => Promise<void> {
  const engines = nodes.map((socket) => createEngine(socket));
  return async (image) => {
    const t0 = Date.now();
    await Promise.all(
      engines.map(async (node) => {
        const saved = await downloadStream(manager, `/images/${encodeURIComponent(image)}/get`);
        try {
          const answer = await uploadTar(node, '/images/load?quiet=1', saved, 'POST');
          // A load that fails mid-way still answers 200, with the error in its JSON stream.
          const failed = /"error(?:Detail)?"\s*:\s*(?:\{\s*"message"\s*:\s*)?"([^"]*)"/.exec(answer);
          if (failed) throw new Error(failed[1]);
        } catch (err) {
          saved.destroy();
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== undefined && UNREACHABLE.has(code)) {
            logger?.warn(
              { image, node: node.socket, code },
              'a swarm node is unreachable: the image was not loaded there',
            );
            return;
          }
          throw new Error(`could not load ${image} into the swarm node at ${node.socket}: ${(err as Error).message}`);
        }
      }),
    );
    logger?.info({ image, nodes: nodes.length, ms: Date.now() - t0 }, 'release image loaded on the swarm nodes');
  };
}
