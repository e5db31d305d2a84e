// What the API's route modules are handed by the composition root.

import type { Logger } from 'pino';
import type { AddonBackups } from '../addons/addon-backups.ts';
import type { AddonOperations } from '../addons/addon-operations.ts';
import type { CertService } from '../certs/cert-service.ts';
import type { IntakeContext } from '../intake/intake-context.ts';
import type { AppLogs } from '../logs/app-log.ts';
import type { DeploymentLogs } from '../logs/deployment-log.ts';
import type { DiskSpace } from '../pipeline/disk-reserve.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { Store } from '../store/types.ts';

export interface ApiContext {
  readonly pipeline: Pipeline;
  /** Turning what a user sends into a queued deployment (src/intake). */
  readonly intake: IntakeContext;
  readonly store: Store;
  /** Add-ons (docs/addons.md). */
  readonly addons: AddonOperations;
  /** Backups of the add-ons that keep data. */
  readonly backups: AddonBackups;
  readonly logs: DeploymentLogs;
  readonly appLogs: AppLogs;
  readonly logger: Logger;
  /** Refuses uploads and pushes while the home's free space is under the reserve. */
  readonly disk: DiskSpace;
  /** Where uploads are spooled before their deployment takes them. */
  readonly spoolDir: string;
  readonly maxUploadBytes: number;
  /** Where the apps' bare git repositories live (`repos/<app>.git`). */
  readonly reposDir: string;
  readonly webUrl: (app: string) => string;
  readonly certs: CertService;
}
