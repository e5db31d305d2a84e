// Build steps in the sandbox, shaped like build/'s BuildRunner: the build and
// its cache are handed to the app's own user first (the source was unpacked
// by root), then every step runs sandboxed as that user, with the build
// directory and the app's build cache as its only writable places.

import { type ContainerLimits, limitsOf } from '../../core/container-size.ts';
import { HELPER_ENV, type RunOptions, type RunResult, runChecked } from '../../exec/index.ts';
import { runSandboxed } from './run-sandboxed.ts';
import type { Sandbox } from './sandbox.ts';

/** Builds (npm ci, bundlers) need more room than most apps: they run in size XL. */
export const BUILD_LIMITS: ContainerLimits = limitsOf('XL');

export interface BuildDirs {
  readonly buildDir: string;
  readonly cacheDir: string;
}

export function sandboxBuildRunner(
  sandbox: Sandbox,
  user: { readonly uid: number; readonly gid: number },
  limits: ContainerLimits = BUILD_LIMITS,
) {
  let dirs: BuildDirs | undefined;
  return {
    async prepare(prepared: BuildDirs): Promise<void> {
      dirs = prepared;
      // One chown for both trees. -P: never follow a symlink the source may contain; change the link itself.
      await runChecked(
        [
          'chown',
          '-R',
          '-P',
          '--no-dereference',
          `${user.uid}:${user.gid}`,
          '--',
          prepared.buildDir,
          prepared.cacheDir,
        ],
        { env: HELPER_ENV },
      );
    },
    run(argv: readonly string[], options: RunOptions & { readonly cwd: string }): Promise<RunResult> {
      if (dirs === undefined) throw new Error('sandboxBuildRunner: prepare() must run first');
      return runSandboxed(sandbox, argv, { ...options, ...user, limits, ...dirs });
    },
  };
}
