// Part of the composition root (server.ts): which runtime runs the containers
// and the builds — the sandbox whenever this host can run it, the process
// runtime with a warning saying what isolation is missing, or dockerd with
// `--runtime docker`, or Swarm services with `--runtime swarm` — and what the containers' side of the host is.

import type { Logger } from 'pino';
import type { DataPaths, Settings } from './config/settings.ts';
import { SlipwayError } from './core/errors.ts';
import {
  createSandboxDriver,
  type DynamicCgroupsState,
  homeKey,
  openSandbox,
  type Sandbox,
  type SandboxNetwork,
} from './runtime/sandbox/index.ts';
import type { RuntimeDriver } from './runtime/types.ts';

/** The containers' side of the host: its address there, their subnet, the host ports they may reach. */
export interface HostNetwork {
  readonly gateway: string;
  readonly subnet: string;
  allowHostPorts(ports: number[]): Promise<void>;
}

export interface PickedRuntime {
  readonly runtime: RuntimeDriver;
  /** The sandbox (containers, or builds only with the docker runtime), when this host runs it. */
  readonly sandbox: Sandbox | null;
  /** Null with the process runtime: containers share the host's network. */
  readonly hostNetwork: HostNetwork | null;
}

/**
 * `--runtime docker` and `--runtime swarm` run containers through dockerd; builds stay on this host,
 * in the driver picked for it here (the sandbox when it can run, else unisolated). `open` gets that
 * pick; the runtime returned closes both.
 */
async function besideBuilds<T extends { readonly runtime: RuntimeDriver }>(
  name: 'docker' | 'swarm',
  settings: Settings,
  paths: DataPaths,
  logger: Logger,
  open: (builds: PickedRuntime) => Promise<T | { missing: string }>,
): Promise<{ builds: PickedRuntime; opened: T; runtime: RuntimeDriver }> {
  // The driver picked for builds runs no container; closing it closes the sandbox, whose layer images bound volumes.
  const builds = await pickRuntime({ ...settings, runtime: 'auto' }, paths, logger, true);
  const opened = await open(builds).catch(async (err: unknown) => {
    await builds.runtime.close(0);
    throw err;
  });
  if ('missing' in opened) {
    await builds.runtime.close(0);
    throw new SlipwayError('runtime.start_failed', `the ${name} runtime cannot run here: ${opened.missing}`);
  }
  const close = async (graceMs: number) => {
    await opened.runtime.close(graceMs);
    await builds.runtime.close(0);
  };
  const { detach } = opened.runtime;
  const kept = detach && (async () => (await detach(), await builds.runtime.close(0)));
  return { builds, opened, runtime: { ...opened.runtime, close, ...(kept ? { detach: kept } : {}) } };
}

/** `--runtime docker`: containers run by dockerd (docs/docker.md). */
async function pickDocker(settings: Settings, paths: DataPaths, logger: Logger): Promise<PickedRuntime> {
  const { openDocker } = await import('./runtime/docker/index.ts');
  const { builds, opened, runtime } = await besideBuilds('docker', settings, paths, logger, (picked) =>
    openDocker({
      key: homeKey(settings.home),
      home: settings.home,
      containersDir: paths.containers,
      volumesDir: paths.volumes,
      layers: picked.sandbox?.layers ?? null,
      socket: settings.dockerSocket,
      logger,
    }),
  );
  const { network } = opened;
  logger.info({ runtime: 'docker', network: network.name }, 'containers run by dockerd (docker runtime)');
  return {
    sandbox: builds.sandbox,
    hostNetwork: {
      gateway: network.gateway,
      subnet: network.subnet,
      allowHostPorts: (ports: number[]) => network.allowHostPorts(ports),
    },
    runtime,
  };
}

/**
 * `--runtime swarm`: containers are Swarm services of the manager dockerd is (docs/scale-out.md).
 * Tasks may run on other nodes: no host network here.
 */
async function pickSwarm(settings: Settings, paths: DataPaths, logger: Logger): Promise<PickedRuntime> {
  const { openSwarm } = await import('./runtime/swarm/index.ts');
  const { builds, runtime } = await besideBuilds('swarm', settings, paths, logger, () =>
    openSwarm({
      key: homeKey(settings.home),
      containersDir: paths.containers,
      socket: settings.dockerSocket,
      stopGraceMs: settings.stopGraceMs,
      logger,
      nodes: settings.swarmNodes,
      sharedBridge: settings.swarmSharedBridge,
    }),
  );
  logger.info({ runtime: 'swarm' }, 'containers run as Swarm services (swarm runtime)');
  return { sandbox: builds.sandbox, hostNetwork: null, runtime };
}

/**
 * The sandbox whenever this host can run it (unless `process` is asked for);
 * else the process driver, with one warning saying what isolation is missing.
 */
export async function pickRuntime(
  settings: Settings,
  paths: DataPaths,
  logger: Logger,
  /** With --runtime docker: the driver picked here runs builds only, and its log lines say so. */
  buildsOnly = false,
): Promise<PickedRuntime> {
  if (settings.runtime === 'docker') return pickDocker(settings, paths, logger);
  if (settings.runtime === 'swarm') return pickSwarm(settings, paths, logger);
  let missing = 'the process runtime was chosen (--runtime process)';
  if (settings.runtime !== 'process') {
    // Each Slipway home nests its cgroups under its own parent, and has its own bridge, subnet
    // and nftables table, so one server's start-up sweep never touches another's containers.
    const opened = await openSandbox({
      scratchDir: paths.containers,
      cgroupParent: `slipway/${homeKey(settings.home)}`,
      home: settings.home,
      // A configured router port goes into the network's rules from the start (0: known once listening).
      allowHostPorts: settings.routerPort === 0 ? [] : [settings.routerPort],
      // Layer images live under containers/, build caches' under cache/: a sweep detaches every loop device of this home.
      loopRoot: settings.home,
    });
    if ('sandbox' in opened) {
      const runtime = createSandboxDriver({
        sandbox: opened.sandbox,
        containersDir: paths.containers,
        volumesDir: paths.volumes,
        logger,
      });
      logDynamicCgroups(logger, opened.dynamicCgroups);
      logNetwork(logger, opened.network);
      logger.info(
        { runtime: 'sandbox' },
        `${buildsOnly ? 'builds' : 'containers'} run sandboxed (bubblewrap, overlayfs, cgroups, a network namespace each)`,
      );
      if (opened.sandbox.layersMissing !== null)
        logger.warn(
          { runtime: 'sandbox', reason: opened.sandbox.layersMissing },
          `containers' writable layers and builds are NOT bounded in disk space: ${opened.sandbox.layersMissing}. ` +
            'An app can fill the Slipway home; the server then refuses new deployments (disk reserve)',
        );
      const { sandbox, network } = opened;
      return {
        runtime,
        sandbox,
        hostNetwork: { gateway: network.gateway, subnet: network.subnet, allowHostPorts: sandbox.allowHostPorts },
      };
    }
    if (settings.runtime === 'sandbox')
      throw new SlipwayError('runtime.start_failed', `the sandbox runtime cannot run here: ${opened.missing}`);
    missing = `the sandbox cannot run here: ${opened.missing}`;
  }
  logger.warn(
    { runtime: 'process', reason: missing },
    `${missing}. ${buildsOnly ? 'Builds' : 'Containers and builds'} run with the process runtime, WITHOUT isolation: as root, ` +
      'seeing the host file system and every process, in no namespaces, with no memory, process, CPU or disk limits ' +
      "(an app can fill the Slipway home; the server then refuses new deployments), sharing the host's network " +
      "(every container can connect to every port of this host, Slipway's API and other apps' containers included)",
  );
  const { createProcessDriver } = await import('./runtime/process/index.ts');
  return {
    runtime: createProcessDriver({ containersDir: paths.containers, volumesDir: paths.volumes, logger }),
    sandbox: null,
    hostNetwork: null,
  };
}

/** What the sandbox did about the kernel's cgroup migration wait (docs/sandbox.md, "Start cost"). */
function logDynamicCgroups(logger: Logger, found: DynamicCgroupsState): void {
  if (found.state === 'enabled')
    logger.info(
      { mountPoint: found.mountPoint },
      'enabled the kernel option favordynmods on the cgroup2 mount: containers join their cgroups without an RCU grace period wait',
    );
  else if (found.state === 'unavailable')
    logger.info(
      { reason: found.reason },
      'favordynmods is not available: each container start waits for an RCU grace period (about 13 ms)',
    );
}

/** What the sandbox set up for the containers' network (docs/sandbox.md, "Networking"). */
function logNetwork(logger: Logger, network: SandboxNetwork): void {
  if (network.ipForward === 'enabled')
    logger.info('enabled IPv4 forwarding (net.ipv4.ip_forward=1): containers reach the outside through NAT');
  for (const home of network.collected)
    logger.info({ home }, 'removed the container network of a Slipway home that no longer exists');
  if (network.resolver === 'loopback')
    logger.warn(
      'the host resolves names on its loopback only (/etc/resolv.conf), which containers cannot reach: ' +
        'name lookups fail in containers and builds (docs/sandbox.md, "DNS")',
    );
  logger.info(
    { bridge: network.bridge, subnet: network.subnet, gateway: network.gateway, nftables: network.table },
    'containers have a network namespace each on their own bridge',
  );
}
