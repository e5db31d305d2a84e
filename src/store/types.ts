// The store seam: every durable fact lives behind this interface. The SQLite
// implementation (store/open-sqlite.ts) is the embedded default; PostgreSQL comes
// later and must pass the same suite (test/store-contract.test.ts).

import type { DeploymentStatus, Step } from '../core/lifecycle.ts';
import type { ManifestScripts } from '../core/parse-manifest.ts';
import type {
  App,
  AppSettingsPatch,
  ConfigVars,
  ContainerRecord,
  ContainerState,
  Deployment,
  DeploymentKind,
  Release,
} from '../core/types.ts';

export interface NewRelease {
  readonly app: string;
  readonly slugId: string;
  readonly config: ConfigVars;
  readonly processes: Readonly<Record<string, string>>;
  readonly procfilePostdeploy: string | null;
  /** Absent on releases made before the release phase existed. */
  readonly releaseCommand?: string | null;
  readonly manifest: ManifestScripts | null;
  readonly commitSha: string | null;
  readonly description: string;
  readonly deploymentId: string | null;
  readonly author?: string | null;
}

export interface NewDeployment {
  readonly app: string;
  readonly kind: DeploymentKind;
  readonly source: string;
  readonly gitRef?: string | null;
  readonly commitSha?: string | null;
  /** For deployments of an existing slug (config, rollback, redeploy): the release they roll out. */
  readonly releaseVersion?: number | null;
  /** Default true; false for `rollback --no-hook`. Config deployments never run it. */
  readonly runHook?: boolean;
  readonly author?: string | null;
}

export interface DeploymentPatch {
  readonly status?: DeploymentStatus;
  readonly step?: Step | null;
  readonly commitSha?: string | null;
  readonly releaseVersion?: number | null;
  readonly hook?: { readonly command: string; readonly source: string; readonly exitCode: number | null } | null;
  readonly error?: { readonly code: string; readonly message: string } | null;
  readonly finishedAt?: string | null;
}

export interface GithubLink {
  readonly app: string;
  /** `owner/repo`, lower case. */
  readonly repo: string;
  readonly branch: string;
  readonly autoDeploy: boolean;
  /** Webhook secret (X-Hub-Signature-256). */
  readonly secret: string;
  /** Token for commit statuses (and fetching private repositories); null when none was given. */
  readonly token: string | null;
  readonly createdAt: string;
}

export type NewGithubLink = Omit<GithubLink, 'createdAt'>;

/** An add-on attached to an app (docs/addons.md). */
export interface AddonRecord {
  readonly app: string;
  /** What it is attached as (`DATABASE`): its URL is the config var `<name>_URL`. */
  readonly name: string;
  readonly provider: string;
  /** The provider's own name for it (a database and its role). */
  readonly resource: string;
  readonly createdAt: string;
}

export interface Store {
  readonly apps: {
    /** Throws SlipwayError `app.already_exists` when taken. */
    create(name: string): Promise<App>;
    get(name: string): Promise<App | undefined>;
    /** Throws SlipwayError `app.not_found`. */
    require(name: string): Promise<App>;
    list(): Promise<App[]>;
    /** Deletes the app and everything that belongs to it. */
    delete(name: string): Promise<void>;
    setCurrentRelease(name: string, version: number | null): Promise<void>;
    /** Per-app settings; a null hook timeout or hook size restores the default. */
    update(name: string, patch: AppSettingsPatch): Promise<App>;
  };
  readonly config: {
    get(app: string): Promise<ConfigVars>;
    /** Applies sets (string) and unsets (null) in one transaction; returns the new config. */
    update(app: string, changes: Readonly<Record<string, string | null>>): Promise<ConfigVars>;
  };
  readonly releases: {
    /** Assigns the next version number (1, 2, ...) atomically. */
    create(release: NewRelease): Promise<Release>;
    get(app: string, version: number): Promise<Release | undefined>;
    /** Newest first. */
    list(app: string): Promise<Release[]>;
  };
  readonly deployments: {
    /** Created `queued`, with a fresh id. */
    create(deployment: NewDeployment): Promise<Deployment>;
    get(id: string): Promise<Deployment | undefined>;
    /** Newest first. */
    list(app: string, limit?: number): Promise<Deployment[]>;
    update(id: string, patch: DeploymentPatch): Promise<Deployment>;
    /** Records the step's start (and finishes the previous unfinished step). */
    startStep(id: string, step: Step, at: string): Promise<void>;
    finishStep(id: string, step: Step, at: string): Promise<void>;
    /** Ends a deployment that is still `queued` as `aborted`; undefined when it is not queued (any more). */
    abortQueued(id: string, error: { code: string; message: string }, at: string): Promise<Deployment | undefined>;
    /** The newest deployment of every app that has one (no steps), in one query. */
    latestOfEachApp(): Promise<Map<string, Pick<Deployment, 'id' | 'status' | 'createdAt'>>>;
    /** Oldest `queued` deployment of the app. */
    nextQueued(app: string): Promise<Deployment | undefined>;
    /** Every deployment not in a final status, oldest first. */
    listUnfinished(): Promise<Deployment[]>;
    /** Whether the app has ever had a `success` deployment of kind `build`. */
    hasSucceeded(app: string): Promise<boolean>;
  };
  readonly formation: {
    /** Quantity per process type; types never scaled are absent. */
    get(app: string): Promise<Record<string, number>>;
    set(app: string, quantities: Readonly<Record<string, number>>): Promise<void>;
  };
  readonly containers: {
    put(container: ContainerRecord): Promise<void>;
    setState(id: string, state: ContainerState): Promise<void>;
    remove(id: string): Promise<void>;
    list(app?: string): Promise<ContainerRecord[]>;
  };
  readonly domains: {
    /** Throws `domain.taken` when another app (or this one) has it. */
    add(app: string, hostname: string): Promise<void>;
    /** Throws `domain.not_found` when the app does not have it. */
    remove(app: string, hostname: string): Promise<void>;
    /** Sorted hostnames of one app. */
    list(app: string): Promise<string[]>;
  };
  readonly tokens: {
    create(name: string, hash: string): Promise<void>;
    /** The token's name when a token with this hash exists. */
    findByHash(hash: string): Promise<{ name: string } | undefined>;
    count(): Promise<number>;
  };
  readonly githubLinks: {
    /** Creates or replaces the app's link. Throws `app.not_found`. */
    put(link: NewGithubLink): Promise<GithubLink>;
    get(app: string): Promise<GithubLink | undefined>;
    /** Every app linked to the repository (`owner/repo`, any case), by app name. */
    findByRepo(repo: string): Promise<GithubLink[]>;
    /** The webhook secrets of every link, each once. */
    secrets(): Promise<string[]>;
    /** False when the app had no link. */
    remove(app: string): Promise<boolean>;
    /** True the first time a delivery id is recorded; keeps only the newest `keep` ids. */
    recordDelivery(id: string, keep?: number): Promise<boolean>;
  };
  readonly addons: {
    /** Throws `addon.already_exists` when the app has one of that name, `app.not_found`. */
    add(addon: Omit<AddonRecord, 'createdAt'>): Promise<AddonRecord>;
    get(app: string, name: string): Promise<AddonRecord | undefined>;
    /** By name. */
    list(app: string): Promise<AddonRecord[]>;
    /** False when the app had none of that name. */
    remove(app: string, name: string): Promise<boolean>;
  };
  /**
   * Runs `fn` with a store whose every write belongs to one transaction: all
   * of them are made, or (when `fn` throws, or the disk is full) none.
   */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
