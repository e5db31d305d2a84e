// What a container runs, the same for every driver: the user's command
// through `/bin/sh -c` (under a terminal for interactive runs), or held back
// until released, for a container prepared ahead of time.

import type { Writable } from 'node:stream';
import { heldUserShell, userShell, userTerminal } from '../exec/index.ts';
import type { ContainerHandle, ContainerSpec, PreparedContainer } from './types.ts';

export interface ContainerCommand {
  readonly argv: string[];
  /** `pipe` for interactive runs, and for a held command (its release line goes there). */
  readonly stdin: 'pipe' | 'ignore';
}

/** Whether the command can be spawned ahead of time and released later: only if it never reads its stdin. */
function canHold(spec: ContainerSpec): boolean {
  return spec.stdin !== 'pipe' && spec.tty === undefined;
}

export function containerCommand(spec: ContainerSpec, held: boolean): ContainerCommand {
  if (held) return { argv: heldUserShell(spec.command), stdin: 'pipe' };
  return {
    argv: spec.tty ? userTerminal(spec.command, spec.tty) : userShell(spec.command),
    stdin: spec.stdin === 'pipe' ? 'pipe' : 'ignore',
  };
}

/** A container just spawned, and the stdin its held command waits on for its line. */
export interface SpawnedContainer {
  readonly handle: ContainerHandle;
  readonly stdin: Writable | null;
}

/**
 * What a driver's prepare returns, given how it spawns (`spawn`, which cleans
 * up after itself when it throws) and how it releases what it prepared: with
 * `early` and a command that can be held, the container is spawned now and
 * start() releases its command; otherwise start() spawns it.
 */
export async function preparedContainer(
  spec: ContainerSpec,
  early: boolean,
  spawn: (held: boolean) => Promise<SpawnedContainer>,
  discard: () => Promise<void>,
): Promise<PreparedContainer> {
  if (!early || !canHold(spec)) return { start: async () => (await spawn(false)).handle, discard };
  return preparedHeld(await spawn(true));
}

/** The prepared form of a held container: start() releases the command, discard() kills it unrun. */
function preparedHeld({ handle, stdin }: SpawnedContainer): PreparedContainer {
  return {
    async start() {
      stdin?.end('\n');
      return handle;
    },
    async discard() {
      stdin?.destroy(); // without its line, the held command can never run
      await handle.stop(0);
    },
  };
}
