// The runtime driver seam: the pipeline starts and stops containers through
// this interface only. Drivers live in sibling folders (`process/`, later
// `sandbox/`, `docker/`) and all pass test/runtime-contract.test.ts.

import type { Writable } from 'node:stream';
import type { ContainerLimits } from '../core/container-size.ts';

export interface ContainerSpec {
  /** Unique id chosen by Slipway; names the container's directories and proves ownership. */
  readonly id: string;
  readonly app: string;
  /** The release it runs (`v7`), for drivers that label containers with it. */
  readonly release?: string;
  /** `web-1`, `worker-2`, `postdeploy-1`, `one-off-3`. */
  readonly name: string;
  /** Absolute path of the release's immutable slug; the container sees a private writable view of it. */
  readonly slugDir: string;
  /** The user's command, run as `/bin/sh -c <command>` from the app root with stdin closed. */
  readonly command: string;
  /** App environment (config vars + runtime variables); the driver adds PATH/HOME defaults beneath and PORT above. */
  readonly env: Readonly<Record<string, string>>;
  /** Allocate a port, set `PORT`, and report it in `handle.address`. */
  readonly exposePort: boolean;
  /** The app's own uid/gid (unique per app). Drivers that isolate run the container as this user. */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Memory, pids and CPU limits of the container's size; drivers with `enforcesLimits` apply them. */
  readonly limits?: ContainerLimits;
  /** `closed` (default): stdin is /dev/null. `pipe`: writable through `handle.stdin` (one-off runs). */
  readonly stdin?: 'closed' | 'pipe';
  /** Run the command under a pseudo-terminal of this size (interactive one-off runs); needs `stdin: 'pipe'`. */
  readonly tty?: { readonly cols: number; readonly rows: number };
  /** Persistent volumes to mount (docs/volumes.md): the same storage in every container given the same id. */
  readonly volumes?: readonly ContainerVolume[];
  /** Every line the container prints, as it prints it. */
  readonly onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Raw output instead of lines (with `tty`, where prompts end without a newline). */
  readonly onData?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

export interface ContainerVolume {
  /** Names the volume's storage (`v-<hex>`). */
  readonly id: string;
  /** Where the container sees it (checked by core/volumes.ts). */
  readonly path: string;
  /** The most it may hold, where the driver bounds it. */
  readonly sizeBytes: number;
}

export interface ContainerExit {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: string | null;
  /** True when the kernel killed it for exceeding its memory limit. */
  readonly outOfMemory?: boolean;
  /** The node it ran on was lost (swarm: marked down), and its end is unknown. */
  readonly nodeLost?: string;
}

export interface ContainerHandle {
  readonly id: string;
  readonly name: string;
  readonly pid: number | undefined;
  /**
   * Where the container accepts TCP on its `PORT` (when `exposePort`). `proxied`: a proxy's
   * address, which accepts connections before the container does (and closes them at once
   * while nothing listens behind it).
   */
  readonly address: { readonly host: string; readonly port: number; readonly proxied?: boolean } | null;
  /** The host it runs on, for runtimes that place containers on several (swarm: the node's hostname). */
  readonly node?: string;
  /**
   * Calls `listener` whenever `address` changes while the container runs (swarm: a task
   * rescheduled on another node), so the router can follow it.
   */
  onMoved?(listener: () => void): void;
  /** The main process's stdin when started with `stdin: 'pipe'`, else null. */
  readonly stdin: Writable | null;
  /**
   * Settles once the container's main process has exited, every other process
   * it started has been killed and its output has been read to the end. Its
   * view may still be being removed then (`exited` waits for that too).
   */
  readonly ended: Promise<ContainerExit>;
  /**
   * Settles once the container's main process has exited, every other process
   * it started has been killed, and its writable view has been removed.
   */
  readonly exited: Promise<ContainerExit>;
  /**
   * Drivers whose engine restarts a failed container itself (swarm): settles when the command
   * first fails, while the handle lives on with the engine's restarts (`ended` settles only when
   * Slipway stops it). The deployment treats it as a crash before the switch. Other drivers end
   * the handle instead and leave this undefined.
   */
  readonly firstFailure?: Promise<ContainerExit>;
  /** With `spec.tty`: gives the container's terminal a new size (its programs get SIGWINCH). */
  resize?(size: { readonly cols: number; readonly rows: number }): Promise<void>;
  /** The TCP ports its processes listen on now (to tell a user whose app took another port than $PORT). */
  listeningPorts?(): number[];
  /** SIGTERM to every process of the container, SIGKILL after `graceMs` (0 = kill now). */
  stop(graceMs: number): Promise<ContainerExit>;
}

export interface RuntimeDriver {
  readonly name: string;
  /** Whether `spec.limits` are enforced (then the app is told CONTAINER_MEMORY). */
  readonly enforcesLimits: boolean;
  start(spec: ContainerSpec): Promise<ContainerHandle>;
  /**
   * Everything `start` does before the command runs (port, writable view,
   * cgroups), so that the later `start()` of the result only spawns it. A
   * prepared container must be started or discarded; `close` discards it.
   */
  prepare(spec: ContainerSpec): Promise<PreparedContainer>;
  /**
   * Start-up, before any container starts: stops and removes every container
   * an earlier run of this Slipway home left behind (a crash, a SIGKILL), as
   * proven by the driver's own records. Returns how many it found.
   */
  sweep(): Promise<number>;
  /**
   * Start-up, before `sweep`, on runtimes whose containers outlive the server (docker,
   * swarm): takes over the running containers an earlier run of this home left, those
   * `choose` accepts (it returns where their output goes from now on; null leaves one
   * to `sweep`). An adopted container's handle is the driver's as if it had started it,
   * and `sweep` leaves it running. Drivers whose containers die with the server have none.
   */
  adopt?(choose: (found: FoundContainer) => ContainerSpec['onLine'] | null): Promise<ContainerHandle[]>;
  /**
   * Deletes a volume's data (docs/volumes.md). Containers still running with it keep what
   * they have mounted until they stop; a container started later with its id gets it empty.
   */
  removeVolume(id: string): Promise<void>;
  /** Stop every container this driver started (server shutdown). */
  close(graceMs: number): Promise<void>;
  /**
   * Server shutdown that leaves every running container running, for the next start to
   * `adopt` (SLIPWAY_KEEP_APPS_ON_EXIT): nothing new starts, what watches them lets go.
   */
  detach?(): Promise<void>;
}

/** A container an earlier run of this home left running, as its labels say. */
export interface FoundContainer {
  /** Slipway's id (the spec's), which the handle keeps. */
  readonly id: string;
  readonly app: string;
  /** `v7`. */
  readonly release: string;
  /** `web-1`. */
  readonly name: string;
}

export interface PreparedContainer {
  /** Runs the command in the prepared container. At most once, and not after `discard`. */
  start(): Promise<ContainerHandle>;
  /** Releases what was prepared, without running anything. Idempotent; a no-op once started. */
  discard(): Promise<void>;
}

/** "exited with code 3", "was killed by SIGKILL", "was killed: out of memory". */
export function describeExit(exit: ContainerExit): string {
  if (exit.outOfMemory) return 'was killed: out of memory (container size limit)';
  if (exit.nodeLost) return `was lost with its node ${exit.nodeLost} (the swarm marked it down)`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
