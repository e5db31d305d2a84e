// What intake needs: turning what a user sends (an upload, a git push, a URL,
// the deploy button, a GitHub push) into a queued deployment. The composition
// root builds it; api/ and web/ hand it over, never their own context.

import type { Logger } from 'pino';
import type { AddonOperations } from '../addons/addon-operations.ts';
import type { Deployment } from '../core/types.ts';
import type { DiskSpace } from '../pipeline/disk-reserve.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { FetchLimits } from '../source/fetch-url.ts';

export interface IntakeContext {
  readonly pipeline: Pick<
    Pipeline,
    'createApp' | 'deployArchive' | 'currentRelease' | 'serializeIntake' | 'updateConfig' | 'setFormation' | 'updateApp'
  >;
  /** A manifest's add-ons, checked before the app is made and provisioned before its first deployment. */
  readonly addons: Pick<AddonOperations, 'check' | 'create' | 'list'>;
  /** A deployment as it is now (to wait for its end). */
  readonly deployment: (id: string) => Promise<Deployment | undefined>;
  /** The deployment logs: a line of intake's own, and following one to its end. */
  readonly logs: {
    append(id: string, text: string): void;
    follow(id: string, onLine: (text: string) => void, onEnd: () => void): () => void;
    isOpen(id: string): boolean;
  };
  readonly logger: Logger;
  /** The home's free space against the reserve: checked before a download starts. */
  readonly disk: Pick<DiskSpace, 'check'>;
  /** Where sources are spooled before their deployment takes them. */
  readonly spoolDir: string;
  /** Size cap, timeouts and destination policy of URL and git fetches. */
  readonly fetchLimits: FetchLimits;
  /** Refuses an unsafe or broken archive: its file, or its bytes when small enough to be held. */
  readonly checkArchive: (archive: string | Buffer) => Promise<unknown>;
  /** The URL an app is served at (a manifest's `url` generator). */
  readonly webUrl: (app: string) => string;
  /** GitHub web and API base URLs. */
  readonly github: { readonly url: string; readonly apiUrl: string };
}
