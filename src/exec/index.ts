export { inPrivateMounts } from './private-mounts.ts';
export {
  appSearchPath,
  HELPER_ENV,
  heldUserShell,
  type IpcChannel,
  type OutputStream,
  type ProcessExit,
  type ProcessHandle,
  type RunOptions,
  type RunResult,
  runChecked,
  runProcess,
  type SpawnOptions,
  spawnProcess,
  userShell,
  userTerminal,
} from './spawn-process.ts';
export { DEFAULT_MAX_LINE_BYTES, splitLines } from './split-lines.ts';
