// What the API's route modules are handed by the composition root.

import type { Logger } from 'pino';
import type { AppLogs } from '../logs/app-log.ts';
import type { DeploymentLogs } from '../logs/deployment-log.ts';
import type { Pipeline } from '../pipeline/create-pipeline.ts';
import type { DiskSpace } from '../pipeline/disk-reserve.ts';
import type { FetchLimits } from '../source/fetch-url.ts';
import type { Store } from '../store/types.ts';

export interface ApiContext {
  readonly pipeline: Pipeline;
  readonly store: Store;
  readonly logs: DeploymentLogs;
  readonly appLogs: AppLogs;
  readonly logger: Logger;
  /** Refuses uploads and pushes while the home's free space is under the reserve. */
  readonly disk: DiskSpace;
  /** Where uploads are spooled before their deployment takes them. */
  readonly spoolDir: string;
  readonly maxUploadBytes: number;
  /** Size cap, timeouts and destination policy of URL and git fetches. */
  readonly fetchLimits: FetchLimits;
  /** Where the apps' bare git repositories live (`repos/<app>.git`). */
  readonly reposDir: string;
  /** Refuses an unsafe or broken archive: its file, or its bytes when small enough to be held. */
  readonly checkArchive: (archive: string | Buffer) => Promise<unknown>;
  readonly webUrl: (app: string) => string;
  /** GitHub web and API base URLs (settings githubUrl, githubApiUrl). */
  readonly github: { readonly url: string; readonly apiUrl: string };
}
