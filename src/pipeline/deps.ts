// What the pipeline needs from the rest of Slipway, as interfaces only: the
// composition root (server.ts) decides which store, runtime and router run.

import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import type { Router } from '../router/types.ts';
import type { RuntimeDriver } from '../runtime/types.ts';
import type { Store } from '../store/types.ts';
import type { DiskSpace } from './disk-reserve.ts';

export interface BuildOutput {
  readonly processes: Record<string, string>;
  readonly procfilePostdeploy: string | null;
  readonly procfileRelease: string | null;
  readonly manifest: ManifestScripts | null;
  /** Config var defaults from the buildpacks (bin/release config_vars), for vars the app does not set. */
  readonly configDefaults?: Readonly<Record<string, string>>;
}

export interface Builder {
  build(options: {
    app: string;
    buildDir: string;
    sourceVersion: string | null;
    cacheDir: string;
    /** The config the new release will run with (the buildpacks' ENV_DIR, BUILDPACK_URL). */
    config: Readonly<Record<string, string>>;
    /** The app's own buildpacks (`slipway buildpacks:set`); empty when none are set. */
    appBuildpacks: readonly string[];
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

/** The server settings the pipeline reads, and where it works. */
export type PipelineSettings = Pick<
  Settings,
  | 'domain'
  | 'bootTimeoutMs'
  | 'hookTimeoutMs'
  | 'buildTimeoutMs'
  | 'stopGraceMs'
  | 'drainTimeoutMs'
  | 'restartBackoffMs'
  | 'maxConcurrentBuilds'
  | 'chaosPause'
  | 'maxUnpackedBytes'
  | 'keepAppsOnExit'
> & {
  /** The URL an app is served at (shown when a deployment goes live). */
  readonly routerUrl: (app: string) => string;
  readonly buildsDir: string;
  readonly cacheDir: string;
};

/** What the pipeline writes into a deployment's log (logs/deployment-log.ts keeps it). */
export interface DeploymentLogWriter {
  /** A line of Slipway's own (step headers, results). */
  append(id: string, text: string): void;
  /** A line of the build's or the hook's output (capped per deployment). */
  appendOutput(id: string, text: string): void;
  /** No more lines: followers get their end. */
  finish(id: string): void;
  remove(id: string): void;
}

/** What the pipeline writes into an app's log (logs/app-log.ts keeps it). */
export interface AppLogWriter {
  write(app: string, source: string, text: string): void;
  remove(app: string): Promise<void>;
}

export interface PipelineDeps {
  readonly store: Store;
  readonly runtime: RuntimeDriver;
  readonly router: Router;
  readonly builder: Builder;
  readonly slugs: SlugStore;
  readonly extract: ExtractArchive;
  readonly logs: DeploymentLogWriter;
  readonly appLogs: AppLogWriter;
  readonly logger: Logger;
  /** The home's free space against the server's reserve. */
  readonly disk: DiskSpace;
  readonly settings: PipelineSettings;
  /**
   * Backs up the app's databases before its postdeploy hook (docs/addons.md): lines for the log
   * now, lines naming the restore commands if the hook then fails, and the restore itself; null
   * when it has none.
   */
  readonly backupBeforeHook?: (
    app: string,
    signal: AbortSignal,
  ) => Promise<{
    readonly taken: readonly string[];
    readonly onFailure: readonly string[];
    /** Restores those backups (apps:update --restore-on-hook-failure on); resolves to lines for the log. */
    readonly restore: () => Promise<readonly string[]>;
  } | null>;
}
