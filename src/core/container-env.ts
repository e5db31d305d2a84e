// The environment of a container, built from scratch (DESIGN §1 "Runtime
// variables"): config vars plus Slipway's runtime variables. Nothing of the
// server's own environment leaks in. Runtime drivers lay this over a base of
// PATH and HOME (which depend on where the app lives) and add PORT.

import type { ConfigVars } from './types.ts';

export interface ContainerIdentity {
  /** Process type: `web`, `worker`, `postdeploy`, `one-off`. */
  readonly type: string;
  readonly index: number;
}

export interface ContainerEnvInput {
  readonly app: string;
  readonly config: ConfigVars;
  readonly container: ContainerIdentity;
  /** The commit SHA when known, else the release name (`v7`). */
  readonly version: string;
  /** Memory limit in MiB; CONTAINER_MEMORY carries it in bytes, as on Scalingo. */
  readonly memoryMb?: number | undefined;
}

export function containerName({ type, index }: ContainerIdentity): string {
  return `${type}-${index}`;
}

/** Heroku-style DYNO name: `web.1`, `run.3` for one-off containers. */
export function dynoName({ type, index }: ContainerIdentity): string {
  return `${type === 'one-off' ? 'run' : type}.${index}`;
}

export function containerEnv(input: ContainerEnvInput): Record<string, string> {
  const env: Record<string, string> = {
    ...input.config,
    APP: input.app,
    CONTAINER: containerName(input.container),
    CONTAINER_VERSION: input.version,
    DYNO: dynoName(input.container),
  };
  if (input.memoryMb !== undefined) env.CONTAINER_MEMORY = String(Math.round(input.memoryMb * 1024 * 1024));
  return env;
}
