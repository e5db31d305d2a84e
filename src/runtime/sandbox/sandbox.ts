// What every sandboxed process needs from the host, found once: the tools
// (bwrap, unshare, mount), the cgroup parents, the host's top-level
// layout, and a world-traversable mount point directory. `openSandbox` probes
// all of it with a real throwaway container and says what is missing.

import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, readlink, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerLimits } from '../../core/container-size.ts';
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
import { createEtcView } from './etc-view.ts';
import { createLayerImages, type LayerImage, type LayerImages, layerImagesMissing } from './layer-images.ts';
import {
  type SandboxInvocation,
  type SandboxTools,
  sandboxArgv,
  TOP_LEVEL_LINKS,
  type TopLevelLayout,
} from './sandbox-argv.ts';

export interface SandboxOptions {
  /** Directory for the probe's scratch files (on the filesystem upper layers will use). */
  readonly scratchDir: string;
  /** Empty directories the private mount namespaces mount on; default /run/slipway-sandbox. */
  readonly mountRoot?: string;
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
}

export type SandboxCommand = Omit<SandboxInvocation, 'tools' | 'cgroupProcs' | 'etcDir'>;

export interface SandboxSpawnOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  readonly onData?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  readonly stdin?: 'ignore' | 'pipe';
}

/** A container's cgroup, made and limited, with nothing running in it yet. */
export interface PreparedSandbox {
  readonly cgroup: ContainerCgroup;
  /** Starts the chain in the cgroup. On a throw the caller destroys the cgroup. */
  spawn(command: SandboxCommand, options: SandboxSpawnOptions): SandboxProcess;
}

export interface Sandbox {
  /** Mount points (in private namespaces only) for the app view, its layer's file system, the build and its cache. */
  readonly mountPoints: {
    readonly app: string;
    readonly layer: string;
    readonly build: string;
    readonly cache: string;
  };
  /** Bounded layers (layer-images.ts); null when this host cannot make them (`layersMissing` says why). */
  readonly layers: LayerImages | null;
  readonly layersMissing: string | null;
  /**
   * Creates the cgroup and finds the current /etc view. `ready` (say, the container's layer
   * being prepared) is awaited alongside; if anything fails, no cgroup is left.
   */
  prepare(id: string, limits: ContainerLimits, ready?: Promise<unknown>): Promise<PreparedSandbox>;
  /** prepare(), then starts the chain in the cgroup; if either fails, nothing is left. */
  spawn(
    id: string,
    limits: ContainerLimits,
    command: SandboxCommand,
    options: SandboxSpawnOptions & { readonly ready?: Promise<unknown> },
  ): Promise<SandboxProcess>;
  /** Kills and removes every container and build cgroup (and layer) left by an earlier run; returns how many. */
  sweep(): Promise<number>;
  /** Removes Slipway's (then empty) parent cgroups and the spare layers. */
  close(): Promise<void>;
}

/** The uid/gid the probe runs as: above any app's, below the overflow uid. */
const PROBE_ID = 65_000;

export type OpenSandboxResult =
  | { readonly sandbox: Sandbox; readonly dynamicCgroups: DynamicCgroupsState }
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
  const overlay = await probeOverlay(options.scratchDir);
  if (overlay !== null) return { missing: `overlay mounts do not work: ${overlay}` };
  const mountRoot = options.mountRoot ?? '/run/slipway-sandbox';
  const mountPoints = {
    app: path.join(mountRoot, 'app'),
    layer: path.join(mountRoot, 'layer'),
    build: path.join(mountRoot, 'build'),
    cache: path.join(mountRoot, 'cache'),
  };
  try {
    for (const dir of [mountRoot, ...Object.values(mountPoints)]) await ensureRootDir(dir);
  } catch (err) {
    return { missing: `cannot prepare ${mountRoot}: ${(err as Error).message}` };
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
      const [made, readied, etcDir] = await Promise.allSettled([
        createCgroup(parents, id, limits),
        ready,
        etc.current(),
      ]);
      if (made.status === 'rejected') throw made.reason;
      const cgroup = made.value;
      if (readied.status === 'rejected' || etcDir.status === 'rejected') {
        await cgroup.destroy();
        throw readied.status === 'rejected' ? readied.reason : (etcDir as PromiseRejectedResult).reason;
      }
      return {
        cgroup,
        spawn(command, spawnOptions) {
          const argv = sandboxArgv({ ...command, tools, cgroupProcs: cgroup.procsFiles, etcDir: etcDir.value }, layout);
          const proc = spawnProcess(argv, {
            cwd: '/',
            env: spawnOptions.env,
            onLine: spawnOptions.onLine,
            onData: spawnOptions.onData,
            stdin: spawnOptions.stdin ?? 'ignore',
          });
          return { proc, cgroup };
        },
      };
    },
    async spawn(id, limits, command, spawnOptions) {
      const prepared = await sandbox.prepare(id, limits, spawnOptions.ready);
      try {
        return prepared.spawn(command, spawnOptions);
      } catch (err) {
        await prepared.cgroup.destroy();
        throw err;
      }
    },
    async sweep() {
      const cgroups = (await sweepCgroups(parents)).length;
      // Then the layers (and any loop device still holding one), once their processes are gone.
      return Math.max(cgroups, await images.sweep());
    },
    close: async () => {
      await images.close();
      await Promise.all(Object.values(parents).map((dir) => rmdir(dir).catch(() => {})));
    },
  };

  // Before the probe, so that the probe's own start is already the fast kind; a layer for it meanwhile.
  const lacking = layerImagesMissing();
  const [dynamicCgroups, probeLayer] = await Promise.all([
    favorDynamicCgroups(),
    lacking !== null
      ? new Error(lacking)
      : images.take(PROBE_LAYER_BYTES, { uid: PROBE_ID, gid: PROBE_ID }, { spare: false }).catch((err: Error) => err),
  ]);
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
  if (problem !== null) await images.close();
  return problem === null ? { sandbox, dynamicCgroups } : { missing: problem };
}

/** The probe's layer: small, since nothing is written to it. */
const PROBE_LAYER_BYTES = 16 * 1024 * 1024;

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function findTools(): SandboxTools | string {
  const dirs = (HELPER_ENV.PATH ?? '').split(':');
  const find = (name: string) => dirs.map((dir) => path.join(dir, name)).find((file) => existsSync(file));
  const found: Partial<Record<'bwrap' | 'unshare' | 'mount', string>> = {};
  for (const name of ['bwrap', 'unshare', 'mount'] as const) {
    const file = find(name);
    if (file === undefined)
      return name === 'bwrap' ? 'bwrap is not installed (apt-get install bubblewrap)' : `${name} is not installed`;
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
    const { proc, cgroup } = await sandbox.spawn(
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
    await cgroup.destroy();
    if (exit.code === 0 && lines[0] === String(PROBE_ID)) return null;
    return `a test sandbox failed (${exit.spawnError ?? `exit ${exit.code ?? exit.signal}`}): ${lines.join(' ').slice(0, 300)}`;
  } catch (err) {
    return `a test sandbox could not start: ${(err as Error).message}`;
  }
}
