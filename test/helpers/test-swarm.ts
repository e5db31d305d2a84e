// The swarm runtime for tests that drive it directly: the host's dockerd as a
// one-node swarm (made here when it is in none: `docker swarm init` on
// loopback; .ci/run does the same), the stack image, and the images of a
// temporary home's key, removed after the file's tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { runProcess } from '../../src/exec/index.ts';
import { createEngine, DEFAULT_STACK_IMAGE, type Engine } from '../../src/runtime/docker/index.ts';
import { stackImageExists } from '../../src/runtime/docker/stack-image.ts';
import { homeKey } from '../../src/runtime/sandbox/network-plan.ts';
import { createReleaseImages, createSwarmDriver, swarmMissing } from '../../src/runtime/swarm/index.ts';
import type { RuntimeDriver } from '../../src/runtime/types.ts';

export type TestSwarm =
  | { readonly newDriver: (containersDir: string) => RuntimeDriver; readonly engine: Engine }
  | { readonly missing: string };

/** Why swarm cannot run here (after trying `docker swarm init` on a dockerd in none), or null. */
export async function swarmSkipReason(): Promise<string | null> {
  const engine = createEngine();
  let missing = await swarmMissing(engine);
  if (missing?.includes('not in a swarm')) {
    await runProcess(['docker', 'swarm', 'init', '--advertise-addr', '127.0.0.1'], {
      env: { PATH: process.env.PATH ?? '' },
    });
    missing = await swarmMissing(engine);
  }
  if (missing !== null) return `swarm unavailable: ${missing}`;
  if (!(await stackImageExists(engine, DEFAULT_STACK_IMAGE)))
    return `swarm unavailable: no stack image ${DEFAULT_STACK_IMAGE} (slipway stack:build)`;
  return null;
}

export async function openTestSwarm(): Promise<TestSwarm> {
  const missing = await swarmSkipReason();
  if (missing !== null) return { missing };
  const engine = createEngine();
  const home = mkdtempSync(path.join(tmpdir(), 'slipway-swarm-home-'));
  const key = homeKey(home);
  const images = createReleaseImages(engine, key, DEFAULT_STACK_IMAGE);
  after(async () => {
    await images.removeAll();
    rmSync(home, { recursive: true, force: true });
  });
  return {
    engine,
    newDriver: (containersDir) => createSwarmDriver({ engine, key, images, containersDir, stopGraceMs: 2000 }),
  };
}

/** Removes the release images the servers of these homes made. */
export async function removeReleaseImages(homes: readonly string[]): Promise<void> {
  const engine = createEngine();
  for (const home of homes) await createReleaseImages(engine, homeKey(home), '').removeAll();
}

/** The hostname the manager's node has in the swarm (what `ps` shows for its tasks). */
export async function swarmNodeHostname(): Promise<string> {
  const engine = createEngine();
  const info = await engine.request<{ Swarm: { NodeID: string } }>('GET', '/info');
  const node = await engine.request<{ Description: { Hostname: string } }>('GET', `/nodes/${info.Swarm.NodeID}`);
  return node.Description.Hostname;
}
