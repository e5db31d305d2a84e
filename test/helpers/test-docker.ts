// The docker runtime for tests that drive it directly: a real dockerd and the
// stack image (`slipway stack:build`; .ci/run builds it), a network of the
// test file's own (a temporary home's key), removed after the file's tests.
// Volumes are bounded images (layer-images.ts) made under that home.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import {
  createDockerDriver,
  createEngine,
  DEFAULT_STACK_IMAGE,
  type DockerNetwork,
  type Engine,
  openDockerNetwork,
  probeEngine,
} from '../../src/runtime/docker/index.ts';
import { stackImageExists } from '../../src/runtime/docker/stack-image.ts';
import { createLayerImages } from '../../src/runtime/sandbox/layer-images.ts';
import { homeKey } from '../../src/runtime/sandbox/network-plan.ts';
import type { RuntimeDriver } from '../../src/runtime/types.ts';

export type TestDocker =
  | {
      readonly newDriver: (containersDir: string) => RuntimeDriver;
      readonly engine: Engine;
      readonly network: DockerNetwork;
    }
  | { readonly missing: string };

/** Why docker cannot run here, or null. */
export async function dockerSkipReason(): Promise<string | null> {
  const engine = createEngine();
  const unreachable = await probeEngine(engine);
  if (unreachable !== null) return `docker unavailable: ${unreachable}`;
  if (!(await stackImageExists(engine, DEFAULT_STACK_IMAGE)))
    return `docker unavailable: no stack image ${DEFAULT_STACK_IMAGE} (slipway stack:build)`;
  return null;
}

export async function openTestDocker(): Promise<TestDocker> {
  const missing = await dockerSkipReason();
  if (missing !== null) return { missing };
  const engine = createEngine();
  const home = mkdtempSync(path.join(tmpdir(), 'slipway-docker-home-'));
  const key = homeKey(home);
  const network = await openDockerNetwork(engine, key, home);
  const layers = createLayerImages({ dir: path.join(home, '.layers') });
  after(async () => {
    await network.remove();
    await layers.close();
    rmSync(home, { recursive: true, force: true });
  });
  return {
    engine,
    network,
    newDriver: (containersDir) =>
      createDockerDriver({ engine, network, key, image: DEFAULT_STACK_IMAGE, containersDir, layers }),
  };
}
