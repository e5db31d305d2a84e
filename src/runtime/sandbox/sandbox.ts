// What every sandboxed process needs from the host, found once: the tools
// (bwrap, unshare, mount, nsenter, ip, nft), the cgroup parents, the home's
// container network, the host's top-level layout, and a world-traversable
// mount point directory. `openSandbox` probes all of it with a real
// throwaway container and says what is missing.

import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerLimits } from '../../core/container-size.ts';
import { MAX_VOLUMES_PER_APP } from '../../core/volumes.ts';
import { HELPER_ENV, type ProcessHandle, spawnProcess } from '../../exec/index.ts';
import { probeOverlay } from '../overlay-mount.ts';
import {
  type ContainerCgroup,
  cgroupParents,
  createCgroup,
  type DynamicCgroupsState,
  favorDynamicCgroups,
  sweepCgroups,
} from './cgroup-v1.ts';
import { createContainerNetwork, type NetworkState } from './container-network.ts';
import { createEtcView, onlyLoopbackResolvers } from './etc-view.ts';
import { createLayerImages, type LayerImage, type LayerImages, layerImagesMissing } from './layer-images.ts';
import type { NetnsLease } from './netns-pool.ts';
import type { NetworkTools } from './network-plan.ts';
import {
  type SandboxInvocation,
  type SandboxTools,
  sandboxArgv,
  TOP_LEVEL_LINKS,
  type TopLevelLayout,
} from './sandbox-argv.ts';

export interface SandboxOptions {
  /**
   * The Slipway home this sandbox serves. A hash of it names the home's
   * container network (bridge, nftables table, namespaces), and the bridge
   * records it, so that a later start can remove the network once the home
   * is gone.
   */
  readonly home: string;
  /** Directory for the probe's scratch files (on the filesystem upper layers will use). */
  readonly scratchDir: string;
  /** Empty directories the private mount namespaces mount on; default /run/slipway-sandbox. */
  readonly mountRoot?: string;
  /** Host TCP ports containers may connect to from the start (the router's, when known); see allowHostPorts. */
  readonly allowHostPorts?: readonly number[];
  /** Name of the cgroup Slipway nests its containers' cgroups under. */
  readonly cgroupParent?: string;
  /** Where the layers' image files live (layer-images.ts); default `<scratchDir>/.layers`. */
  readonly layersDir?: string;
  /** Loop devices backed by files under this directory are this home's (a sweep detaches any left); default `layersDir`. */
  readonly loopRoot?: string;
}

export interface SandboxProcess {
  readonly proc: ProcessHandle;
  readonly cgroup: ContainerCgroup;
  /** See PreparedSandbox.destroy. */
  destroy(alongside?: () => Promise<unknown>): Promise<void>;
}

export type SandboxCommand = Omit<SandboxInvocation, 'tools' | 'cgroupProcs' | 'etcDir' | 'netns'>;

export interface SandboxSpawnOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  readonly onData?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  readonly stdin?: 'ignore' | 'pipe';
}

/** A container's cgroup, made and limited, and its network namespace, with nothing running in them yet. */
export interface PreparedSandbox {
  readonly cgroup: ContainerCgroup;
  /** The container's IPv4 address on the home's bridge. */
  readonly address: string;
  /** Starts the chain in the cgroup and the namespace. On a throw the caller destroys the sandbox. */
  spawn(command: SandboxCommand, options: SandboxSpawnOptions): SandboxProcess;
  /**
   * Kills whatever is left in the cgroup, then removes the cgroup and the
   * network namespace, while `alongside` (cleanup that needs the processes
   * gone) runs.
   */
  destroy(alongside?: () => Promise<unknown>): Promise<void>;
}

export interface Sandbox {
  /**
   * Mount points (in private namespaces only) for the app view, its layer's file system, the build,
   * its cache and its workspace (the buildpacks and ENV_DIR, read-only).
   */
  readonly mountPoints: {
    readonly app: string;
    readonly layer: string;
    readonly build: string;
    readonly cache: string;
    readonly workspace: string;
    /** One per volume a container may have (docs/volumes.md), in order. */
    readonly volumes: readonly string[];
  };
  /** Bounded layers (layer-images.ts); null when this host cannot make them (`layersMissing` says why). */
  readonly layers: LayerImages | null;
  readonly layersMissing: string | null;
  /**
   * Creates the cgroup, takes a network namespace and finds the current /etc view. `ready`
   * (say, the container's layer being prepared) is awaited alongside; if anything fails,
   * neither cgroup nor namespace is left.
   */
  prepare(id: string, limits: ContainerLimits, ready?: Promise<unknown>): Promise<PreparedSandbox>;
  /** prepare(), then starts the chain in the cgroup; if either fails, nothing is left. */
  spawn(
    id: string,
    limits: ContainerLimits,
    command: SandboxCommand,
    options: SandboxSpawnOptions & { readonly ready?: Promise<unknown> },
  ): Promise<SandboxProcess>;
  /** Kills and removes every container and build cgroup (and namespace, and layer) left by an earlier run; returns how many. */
  sweep(): Promise<number>;
  /** Host TCP ports containers may connect to (the router's), on the bridge's address. */
  allowHostPorts(ports: readonly number[]): Promise<void>;
  /** Removes the home's container network, the spare layers and Slipway's (then empty) parent cgroups. */
  close(): Promise<void>;
}

/** The uid/gid the probe runs as: above any app's, below the overflow uid. */
const PROBE_ID = 65_000;

/** The network as set up, and whether the /etc view gives containers a resolver they can reach. */
export type SandboxNetwork = NetworkState & { readonly resolver: 'reachable' | 'loopback' };

export type OpenSandboxResult =
  | { readonly sandbox: Sandbox; readonly dynamicCgroups: DynamicCgroupsState; readonly network: SandboxNetwork }
  | { readonly missing: string };

export async function openSandbox(options: SandboxOptions): Promise<OpenSandboxResult> {
  if (process.platform !== 'linux') return { missing: `platform is ${process.platform}, not Linux` };
  if (process.getuid?.() !== 0) return { missing: 'Slipway is not running as root' };
  const tools = findTools();
  if (typeof tools === 'string') return { missing: tools };
  let parents: ReturnType<typeof cgroupParents>;
  try {
    parents = cgroupParents(options.cgroupParent ?? 'slipway');
  } catch (err) {
    return { missing: (err as Error).message };
  }
  // The network's set-up (a few short processes) runs while the rest is checked; any
  // later failure takes it down again.
  const network = createContainerNetwork(tools, options.home, options.allowHostPorts);
  const networkReady = network.open().then(
    (state) => ({ state }),
    (err: Error) => ({ missing: `the container network cannot be set up: ${err.message}` }),
  );
  const fail = async (missing: string) => {
    await network.close().catch(() => {});
    return { missing };
  };
  const overlay = await probeOverlay(options.scratchDir);
  if (overlay !== null) return fail(`overlay mounts do not work: ${overlay}`);
  const mountRoot = options.mountRoot ?? '/run/slipway-sandbox';
  const mountPoints = {
    app: path.join(mountRoot, 'app'),
    layer: path.join(mountRoot, 'layer'),
    build: path.join(mountRoot, 'build'),
    cache: path.join(mountRoot, 'cache'),
    workspace: path.join(mountRoot, 'workspace'),
    volumes: Array.from({ length: MAX_VOLUMES_PER_APP }, (_, i) => path.join(mountRoot, `volume-${i}`)),
  };
  try {
    for (const dir of [mountRoot, ...Object.values(mountPoints).flat()]) await ensureRootDir(dir);
  } catch (err) {
    return fail(`cannot prepare ${mountRoot}: ${(err as Error).message}`);
  }
  const layout = await topLevelLayout();
  const etc = createEtcView(mountRoot);
  const layersDir = options.layersDir ?? path.join(options.scratchDir, '.layers');
  const images = createLayerImages({ dir: layersDir, sweepRoot: options.loopRoot ?? layersDir });
  let layersMissing: string | null = null;

  const sandbox: Sandbox = {
    mountPoints,
    get layers() {
      return layersMissing === null ? images : null;
    },
    get layersMissing() {
      return layersMissing;
    },
    async prepare(id, limits, ready) {
      const [made, readied, etcDir, leased] = await Promise.allSettled([
        createCgroup(parents, id, limits),
        ready,
        etc.current(),
        network.lease(),
      ]);
      const failed = [made, readied, etcDir, leased].find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) {
        await Promise.allSettled([
          made.status === 'fulfilled' ? made.value.destroy() : undefined,
          leased.status === 'fulfilled' ? leased.value.release() : undefined,
        ]);
        throw failed.reason;
      }
      const cgroup = (made as PromiseFulfilledResult<ContainerCgroup>).value;
      const lease = (leased as PromiseFulfilledResult<NetnsLease>).value;
      const etcView = (etcDir as PromiseFulfilledResult<string>).value;
      const destroy = async (alongside?: () => Promise<unknown>) => {
        try {
          await cgroup.destroy(alongside);
        } catch (err) {
          // A cgroup that cannot be emptied may leave processes in the namespace: never reuse it.
          await lease.discard().catch(() => {});
          throw err;
        }
        // Every process is gone (the cgroup could be removed): the namespace can serve another container.
        await lease.release();
      };
      return {
        cgroup,
        address: lease.address,
        destroy,
        spawn(command, spawnOptions) {
          const argv = sandboxArgv(
            { ...command, tools, cgroupProcs: cgroup.procsFiles, etcDir: etcView, netns: lease.path },
            layout,
          );
          const proc = spawnProcess(argv, {
            cwd: '/',
            env: spawnOptions.env,
            onLine: spawnOptions.onLine,
            onData: spawnOptions.onData,
            stdin: spawnOptions.stdin ?? 'ignore',
          });
          return { proc, cgroup, destroy };
        },
      };
    },
    async spawn(id, limits, command, spawnOptions) {
      const prepared = await sandbox.prepare(id, limits, spawnOptions.ready);
      try {
        return prepared.spawn(command, spawnOptions);
      } catch (err) {
        await prepared.destroy();
        throw err;
      }
    },
    async sweep() {
      // Processes first (their cgroups), then the namespaces they ran in and the layers they wrote
      // (and any loop device still holding one).
      const cgroups = (await sweepCgroups(parents)).length;
      const [namespaces, layers] = await Promise.all([network.sweep(), images.sweep()]);
      return Math.max(cgroups, namespaces, layers);
    },
    allowHostPorts: (ports) => network.allowHostPorts(ports),
    close: async () => {
      await Promise.all([network.close(), images.close()]);
      await Promise.all(Object.values(parents).map((dir) => rmdir(dir).catch(() => {})));
    },
  };

  // Before the probe, so that the probe's own start is already the fast kind; a layer for it meanwhile.
  const lacking = layerImagesMissing();
  const [opened, dynamicCgroups, probeLayer] = await Promise.all([
    networkReady,
    favorDynamicCgroups(),
    lacking !== null
      ? new Error(lacking)
      : images.take(PROBE_LAYER_BYTES, { uid: PROBE_ID, gid: PROBE_ID }, { spare: false }).catch((err: Error) => err),
  ]);
  const failWithLayers = async (missing: string) => {
    await images.close().catch(() => {});
    return fail(missing);
  };
  if ('missing' in opened) {
    if (!(probeLayer instanceof Error)) await images.release(probeLayer).catch(() => {});
    return failWithLayers(opened.missing);
  }
  let problem: string | null;
  if (probeLayer instanceof Error) {
    layersMissing = lacking ?? `cannot make a layer image: ${firstLine(probeLayer.message)}`;
    problem = await probe(sandbox, null);
  } else {
    // One probe proves the layer mounts too; if only that fails, the sandbox runs with unbounded layers.
    problem = await probe(sandbox, { layer: probeLayer, target: mountPoints.layer });
    await images.release(probeLayer).catch(() => {});
    if (problem !== null) {
      layersMissing = `a layer image does not mount: ${problem}`;
      problem = await probe(sandbox, null);
    }
  }
  if (problem !== null) return failWithLayers(problem);
  const resolvConf = await readFile(path.join(await etc.current(), 'resolv.conf'), 'utf8').catch(() => '');
  const resolver = onlyLoopbackResolvers(resolvConf) ? 'loopback' : 'reachable';
  return { sandbox, dynamicCgroups, network: { ...opened.state, resolver } };
}

/** The probe's layer: small, since nothing is written to it. */
const PROBE_LAYER_BYTES = 16 * 1024 * 1024;

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** Each tool the sandbox runs, and the Debian package that has it. */
const TOOL_PACKAGES = {
  bwrap: 'bubblewrap',
  unshare: 'util-linux',
  mount: 'mount',
  nsenter: 'util-linux',
  ip: 'iproute2',
  nft: 'nftables',
} as const;

function findTools(): (SandboxTools & NetworkTools) | string {
  const dirs = (HELPER_ENV.PATH ?? '').split(':');
  const find = (name: string) => dirs.map((dir) => path.join(dir, name)).find((file) => existsSync(file));
  const found: Partial<Record<keyof typeof TOOL_PACKAGES, string>> = {};
  for (const [name, pkg] of Object.entries(TOOL_PACKAGES) as [keyof typeof TOOL_PACKAGES, string][]) {
    const file = find(name);
    if (file === undefined) return `${name} is not installed (apt-get install ${pkg})`;
    found[name] = file;
  }
  const tools = found as Required<typeof found>;
  // A setuid-root bwrap would start privileged: then setpriv drops privileges with no_new_privs first.
  if ((statSync(tools.bwrap).mode & 0o4000) === 0) return tools;
  const setpriv = find('setpriv');
  return setpriv === undefined ? 'bwrap is setuid root and setpriv is not installed' : { ...tools, setpriv };
}

/** A root-owned directory others may traverse; refuses a symlink or someone else's directory. */
async function ensureRootDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const stat = await lstat(dir);
  if (!stat.isDirectory() || stat.uid !== 0) throw new Error(`${dir} is not a directory owned by root`);
  if ((stat.mode & 0o022) !== 0) throw new Error(`${dir} is writable by others`);
}

async function topLevelLayout(): Promise<TopLevelLayout> {
  const layout = new Map<string, string | null>();
  for (const link of TOP_LEVEL_LINKS) {
    const stat = await lstat(link).catch(() => null);
    if (stat === null) continue;
    if (stat.isSymbolicLink()) layout.set(link, await readlink(link));
    else if (stat.isDirectory()) layout.set(link, null);
  }
  return layout;
}

/**
 * Runs `id -u` in a real sandbox: proves user namespaces, cgroups and bwrap
 * work together (and, given a layer, that its file system mounts).
 */
async function probe(
  sandbox: Sandbox,
  layer: { readonly layer: LayerImage; readonly target: string } | null,
): Promise<string | null> {
  const lines: string[] = [];
  try {
    const { proc, destroy } = await sandbox.spawn(
      `probe-${randomBytes(4).toString('hex')}`,
      { memoryBytes: 64 * 1024 * 1024, pids: 16, cpuShares: 128, diskBytes: PROBE_LAYER_BYTES },
      {
        uid: PROBE_ID,
        gid: PROBE_ID,
        setupMounts: layer === null ? [] : [{ kind: 'ext4', source: layer.layer.file, target: layer.target }],
        binds: [],
        cwd: '/',
        hostname: 'probe',
        argv: ['/usr/bin/id', '-u'],
      },
      { env: { PATH: HELPER_ENV.PATH ?? '/usr/bin:/bin' }, onLine: (_stream, line) => lines.push(line) },
    );
    const exit = await proc.exited;
    await destroy();
    if (exit.code === 0 && lines[0] === String(PROBE_ID)) return null;
    return `a test sandbox failed (${exit.spawnError ?? `exit ${exit.code ?? exit.signal}`}): ${lines.join(' ').slice(0, 300)}`;
  } catch (err) {
    return `a test sandbox could not start: ${(err as Error).message}`;
  }
}
