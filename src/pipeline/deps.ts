// What the pipeline needs from the rest of Slipway, as interfaces only: the
// composition root (server.ts) decides which store, runtime and router run.

import type { Logger } from 'pino';
import type { Step } from '../core/lifecycle.ts';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import type { Router } from '../router/types.ts';
import type { RuntimeDriver } from '../runtime/types.ts';
import type { Store } from '../store/types.ts';
import type { AppLogs } from './app-log.ts';
import type { DeploymentLogs } from './deployment-log.ts';
import type { DiskSpace } from './disk-reserve.ts';

export interface BuildOutput {
  readonly processes: Record<string, string>;
  readonly procfilePostdeploy: string | null;
  readonly manifest: ManifestScripts | null;
}

export interface Builder {
  build(options: {
    app: string;
    buildDir: string;
    sourceVersion: string | null;
    cacheDir: string;
    onLine: (line: string) => void;
    timeoutMs?: number;
    signal?: AbortSignal;
  }): Promise<BuildOutput>;
}

export interface SlugStore {
  /** Moves the build into the store; stops (leaving nothing) when `signal` aborts. */
  store(app: string, buildDir: string, signal?: AbortSignal): Promise<string>;
  path(app: string, slugId: string): string;
  remove(app: string, slugId: string): Promise<void>;
}

export type ExtractArchive = (
  archive: string,
  destDir: string,
  limits?: { maxBytes?: number },
  options?: {
    /** Stops the unpacking, nothing left writing. */
    signal?: AbortSignal;
    /** Pass one's exact totals, before anything is written; throwing refuses the archive. */
    beforeUnpack?: (stats: { files: number; bytes: number }) => void;
  },
) => Promise<{ files: number; bytes: number }>;

export interface PipelineSettings {
  readonly domain: string;
  readonly routerUrl: (app: string) => string;
  readonly bootTimeoutMs: number;
  readonly hookTimeoutMs: number;
  readonly buildTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly drainTimeoutMs: number;
  readonly restartBackoffMs: number;
  /** Builds running at once across all apps; further builds wait `queued`. */
  readonly maxConcurrentBuilds: number;
  /** Chaos testing only (SLIPWAY_CHAOS_PAUSE): pause on entering a step, so a test can kill the server there. */
  readonly chaosPause?: { readonly step: Step; readonly ms: number } | null;
  readonly maxUnpackedBytes: number;
  readonly buildsDir: string;
  readonly cacheDir: string;
}

export interface PipelineDeps {
  readonly store: Store;
  readonly runtime: RuntimeDriver;
  readonly router: Router;
  readonly builder: Builder;
  readonly slugs: SlugStore;
  readonly extract: ExtractArchive;
  readonly logs: DeploymentLogs;
  readonly appLogs: AppLogs;
  readonly logger: Logger;
  /** The home's free space against the server's reserve. */
  readonly disk: DiskSpace;
  readonly settings: PipelineSettings;
}
