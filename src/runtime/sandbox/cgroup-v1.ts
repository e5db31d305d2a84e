// One cgroup (v1) per sandboxed container, in the memory, pids and cpu
// hierarchies, nested under the cgroup Slipway itself runs in. The container's
// first process joins it before anything else runs, so every process the
// container ever starts is counted, limited, and found again at teardown.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerLimits } from '../../core/container-size.ts';
import { HELPER_ENV, runProcess } from '../../exec/index.ts';
import { readMounts } from '../mountinfo.ts';

export const CGROUP_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
type Controller = (typeof CGROUP_CONTROLLERS)[number];

const CGROUP_MOUNT = '/sys/fs/cgroup';

/** `<mount>/<controller>/<our own cgroup>/<parentName>` for each controller. */
export function cgroupParents(parentName: string, selfCgroup = readSelfCgroup()): Record<Controller, string> {
  const parents = {} as Record<Controller, string>;
  for (const controller of CGROUP_CONTROLLERS) {
    const own = selfCgroup.get(controller);
    if (own === undefined) throw new Error(`cgroup v1 controller "${controller}" is not mounted`);
    parents[controller] = path.join(CGROUP_MOUNT, controller, own, parentName);
  }
  return parents;
}

/** controller → path of this process's cgroup in that hierarchy, from /proc/self/cgroup. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, controllers, cgroupPath] = line.split(':');
    if (!controllers || cgroupPath === undefined) continue; // v2 line (`0::/`) or blank
    for (const controller of controllers.split(',')) out.set(controller, cgroupPath);
  }
  return out;
}

function readSelfCgroup(): Map<string, string> {
  return parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
}

export interface ContainerCgroup {
  /** The `cgroup.procs` files a process writes its pid to, to join. */
  readonly procsFiles: readonly string[];
  /** Pids of every process in the container now. */
  pids(): Promise<number[]>;
  /** True once the kernel's OOM killer has killed a process of this cgroup. */
  oomKilled(): Promise<boolean>;
  /** SIGKILLs every process until none is left (bounded). */
  kill(): Promise<void>;
  /**
   * SIGKILLs every process until none is left (bounded); then removes the
   * cgroups, while `alongside` (cleanup that needs the processes gone) runs.
   */
  destroy(alongside?: () => Promise<unknown>): Promise<void>;
}

/** How long a teardown keeps killing before it gives up (what is left is reported by the caller). */
const KILL_FOR_MS = 2000;
/** Pauses between kill rounds start short (a process that was just killed is usually gone within a millisecond or two) and double up to this. */
const KILL_PAUSE_MS = 10;

export async function createCgroup(
  parents: Record<Controller, string>,
  id: string,
  limits: ContainerLimits,
): Promise<ContainerCgroup> {
  const dirs = CGROUP_CONTROLLERS.map((controller) => path.join(parents[controller], id));
  const [memory, pids, cpu] = dirs as [string, string, string];
  const created: string[] = [];
  const remove = () => Promise.all(created.map(rmdirRetrying));
  // Synchronous calls: each is a few microseconds in cgroupfs, where a trip to
  // the thread pool and back costs up to a millisecond on a busy host, and a
  // container start makes a dozen of them.
  const make = (dir: string) => {
    mkdirSync(path.dirname(dir), { recursive: true });
    mkdirSync(dir);
    created.push(dir);
  };
  try {
    make(memory);
    writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    // With swap, the memory limit alone would let a container swap instead of being stopped.
    try {
      writeFileSync(path.join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
    } catch (err) {
      ignoreMissing(err as NodeJS.ErrnoException);
    }
    make(pids);
    writeFileSync(path.join(pids, 'pids.max'), String(limits.pids));
    make(cpu);
    writeFileSync(path.join(cpu, 'cpu.shares'), String(limits.cpuShares));
  } catch (err) {
    await remove().catch(() => {});
    throw err;
  }

  // Synchronous for the same reason: teardown polls it, and a container's end waits for it.
  const listPids = async () => parsePids(readFileSync(path.join(pids, 'cgroup.procs'), 'utf8'));

  return {
    procsFiles: dirs.map((dir) => path.join(dir, 'cgroup.procs')),
    pids: listPids,
    async oomKilled() {
      const control = await readFile(path.join(memory, 'memory.oom_control'), 'utf8');
      const match = /^oom_kill (\d+)$/m.exec(control);
      return match !== null && Number(match[1]) > 0;
    },
    kill: () => killEvery(listPids),
    async destroy(alongside) {
      await killEvery(listPids);
      await Promise.all([remove(), alongside?.()]);
    },
  };
}

/** SIGKILLs every process `list` reports until none is left (bounded in time). */
async function killEvery(list: () => Promise<number[]>): Promise<void> {
  const deadline = Date.now() + KILL_FOR_MS;
  // A container whose main process just ended often still lists a process that is exiting (bwrap's
  // pid 1 tearing its namespaces down): poll soon, then less often.
  for (let pause = 1; ; pause = Math.min(pause * 2, KILL_PAUSE_MS)) {
    const live = await list().catch(() => []);
    if (live.length === 0 || Date.now() >= deadline) return;
    for (const pid of live) killQuietly(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function parsePids(text: string): number[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

/**
 * Destroys every child cgroup under `parents` (containers and builds a crashed
 * server left behind): kills their processes, removes the cgroups. Returns
 * the ids found. Only Slipway's own parent cgroup is ever looked into.
 */
export async function sweepCgroups(parents: Record<Controller, string>): Promise<string[]> {
  const ids = new Set<string>();
  for (const controller of CGROUP_CONTROLLERS) {
    const entries = await readdir(parents[controller], { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) ids.add(entry.name);
  }
  for (const id of ids) {
    const dirs = CGROUP_CONTROLLERS.map((controller) => path.join(parents[controller], id));
    const listAll = async () => {
      const all = await Promise.all(
        dirs.map((dir) => readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')),
      );
      return all.flatMap(parsePids);
    };
    await killEvery(listAll);
    await Promise.all(dirs.map(rmdirRetrying));
  }
  return [...ids];
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

// A cgroup whose last task is still being reaped answers EBUSY for a moment.
async function rmdirRetrying(dir: string): Promise<void> {
  const deadline = Date.now() + 1000;
  for (let pause = 1; ; pause = Math.min(pause * 2, KILL_PAUSE_MS)) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/**
 * What `favorDynamicCgroups` found or did: `on` (already set), `enabled` (set
 * now, on `mountPoint`), or `unavailable` with the reason.
 */
export type DynamicCgroupsState =
  | { readonly state: 'on' | 'enabled'; readonly mountPoint: string }
  | { readonly state: 'unavailable'; readonly reason: string };

/**
 * Every container start moves a process into new cgroups. By default the
 * kernel makes each such move wait for an RCU grace period (about 13 ms on
 * the development VM, most of a sandbox's start-up cost); the cgroup2 mount
 * option `favordynmods` (Linux ≥ 6.0) trades that for slightly dearer
 * fork/exit. It is one switch for the whole host, so it also helps v1
 * hierarchies: Slipway remounts the host's cgroup2 mount with it.
 */
export async function favorDynamicCgroups(): Promise<DynamicCgroupsState> {
  const mount = (await readMounts().catch(() => [])).find((entry) => entry.fstype === 'cgroup2');
  if (mount === undefined) return { state: 'unavailable', reason: 'no cgroup2 file system is mounted' };
  if (mount.superOptions.includes('favordynmods')) return { state: 'on', mountPoint: mount.mountPoint };
  let detail = '';
  const result = await runProcess(['mount', '-o', 'remount,favordynmods', mount.mountPoint], {
    env: HELPER_ENV,
    onLine: (_stream, line) => {
      detail ||= line;
    },
    timeoutMs: 10_000,
  });
  if (result.code === 0) return { state: 'enabled', mountPoint: mount.mountPoint };
  return { state: 'unavailable', reason: `remounting ${mount.mountPoint} failed: ${detail || `exit ${result.code}`}` };
}
