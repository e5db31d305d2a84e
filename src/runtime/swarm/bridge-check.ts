// Swarm puts a task that names no network on its node's default docker bridge,
// as the swarm runtime's tasks are (a network of Swarm's own costs each task
// start about 0.7 s more: docs/scale-out.md). That bridge keeps containers
// apart only when its dockerd runs with `"icc": false`; this checks it on the
// manager and on every node Slipway can reach (SLIPWAY_SWARM_NODES).

import type { Engine } from '../docker/engine.ts';

const ICC = 'com.docker.network.bridge.enable_icc';

/** The dockerds (their sockets) whose default bridge lets containers reach one another; unreachable ones are skipped. */
export async function sharedBridges(engines: readonly Engine[]): Promise<string[]> {
  const shared = await Promise.all(
    engines.map(async (engine) => {
      const bridge = await engine
        .request<{ Options?: Record<string, string> }>('GET', '/networks/bridge')
        .catch(() => null);
      // Docker's default, when the option is absent, is to allow it.
      return bridge !== null && bridge.Options?.[ICC] !== 'false' ? engine.socket : null;
    }),
  );
  return shared.filter((socket): socket is string => socket !== null);
}

export function sharedBridgeMessage(sockets: readonly string[]): string {
  return (
    `containers on the default docker bridge of ${sockets.join(', ')} can reach one another, so apps would reach ` +
    'each other: set "icc": false in /etc/docker/daemon.json on every node and restart dockerd ' +
    '(docs/scale-out.md, "Keeping apps apart"), or set SLIPWAY_SWARM_SHARED_BRIDGE=1 to run them anyway'
  );
}
