// Reading a service's tasks from the swarm manager: which task is the newest,
// whether it has ended and how, and where it runs (its node's address and the
// port published there, from the task's PortStatus).

import type { Engine } from '../docker/engine.ts';
import { decodeExit } from '../sandbox/sandbox-argv.ts';
import type { ContainerExit } from '../types.ts';

export interface Task {
  readonly ID: string;
  readonly NodeID?: string;
  readonly CreatedAt: string;
  /** `shutdown` once Swarm gave the task up (its node lost, its service scaled down). */
  readonly DesiredState?: string;
  readonly Status: {
    readonly State: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ContainerID?: string; readonly ExitCode?: number };
    readonly PortStatus?: { readonly Ports?: { readonly PublishedPort?: number }[] };
  };
}

const ENDED = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned', 'remove']);
/** States a task never reaches once its container has started. */
const NEVER_RAN = new Set(['rejected', 'orphaned']);

export const hasEnded = (task: Task) => ENDED.has(task.Status.State);
export const hasStarted = (task: Task) => task.Status.State === 'running' || hasEnded(task);

/** The service's tasks, newest first; null once the service is gone. */
export async function serviceTasks(engine: Engine, service: string): Promise<Task[] | null> {
  const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
  try {
    const tasks = await engine.request<Task[]>('GET', `/tasks?filters=${filters}`);
    return tasks.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
  } catch (err) {
    if (/no such service|not found/i.test((err as Error).message)) return null;
    throw err;
  }
}

/** How an ended task's command ended (exit code 128+n: signal n, as docker-init reports it). */
export function taskExit(task: Task): ContainerExit {
  const code = task.Status.ContainerStatus?.ExitCode;
  if (code === undefined || (NEVER_RAN.has(task.Status.State) && code === 0)) return { code: null, signal: 'SIGKILL' };
  return decodeExit(code, null);
}

/** Why a task could not run at all (no such image on its node, no node with the port free), or null. */
export function taskRefused(task: Task): string | null {
  if (
    !NEVER_RAN.has(task.Status.State) &&
    !(task.Status.State === 'failed' && !task.Status.ContainerStatus?.ContainerID)
  )
    return null;
  return task.Status.Err ?? task.Status.State;
}

export interface SwarmNode {
  /** Where its published ports are reached. */
  readonly address: string;
  /** What `ps` shows. */
  readonly hostname: string;
}

/** A node's address and hostname, asked of the manager once per node. */
export function createNodes(engine: Engine) {
  const known = new Map<string, SwarmNode>();
  return async (nodeId: string): Promise<SwarmNode> => {
    const cached = known.get(nodeId);
    if (cached) return cached;
    const node = await engine.request<{ Status: { Addr: string }; Description?: { Hostname?: string } }>(
      'GET',
      `/nodes/${nodeId}`,
    );
    const found = { address: node.Status.Addr, hostname: node.Description?.Hostname ?? nodeId.slice(0, 12) };
    known.set(nodeId, found);
    return found;
  };
}

/** The node's hostname when the swarm marks it down, else null. */
export async function downNode(engine: Engine, nodeId: string): Promise<string | null> {
  const node = await engine.request<{ Status: { State: string }; Description?: { Hostname?: string } }>(
    'GET',
    `/nodes/${nodeId}`,
  );
  return node.Status.State === 'down' ? (node.Description?.Hostname ?? nodeId) : null;
}
