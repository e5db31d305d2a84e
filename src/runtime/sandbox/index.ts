// Public face of the `sandbox` runtime driver: probe the host once, then run
// containers (and build steps) isolated; everything else here is internal.

export { BUILD_LIMITS, sandboxBuildRunner } from './build-runner.ts';
export type { DynamicCgroupsState } from './cgroup-v1.ts';
export { homeKey } from './network-plan.ts';
export { runSandboxed, type SandboxedRunOptions } from './run-sandboxed.ts';
export {
  type OpenSandboxResult,
  openSandbox,
  type Sandbox,
  type SandboxNetwork,
  type SandboxOptions,
} from './sandbox.ts';
export { createSandboxDriver, type SandboxDriverOptions } from './sandbox-driver.ts';
