// Domain records → the JSON shapes of DESIGN §3 (snake_case, fixed names).

import type { ContainerJson, DeploymentJson, ReleaseJson, RunDetachedJson } from '../core/api-json.ts';
import { type ContainerRecord, type Deployment, type Release, releaseName } from '../core/types.ts';
import type { OneOffRun } from '../pipeline/run-one-off.ts';

export function deploymentJson(d: Deployment): DeploymentJson {
  return {
    id: d.id,
    app: d.app,
    kind: d.kind,
    status: d.status,
    step: d.step,
    source: d.source,
    git_ref: d.gitRef,
    commit_sha: d.commitSha,
    release: d.releaseVersion === null ? null : releaseName(d.releaseVersion),
    run_hook: d.runHook,
    author: d.author,
    hook: d.hook ? { command: d.hook.command, source: d.hook.source, exit_code: d.hook.exitCode } : null,
    error: d.error,
    created_at: d.createdAt,
    finished_at: d.finishedAt,
    steps: d.steps.map((s) => ({ name: s.name, started_at: s.startedAt, finished_at: s.finishedAt })),
  };
}

export function releaseJson(r: Release, currentVersion: number | null): ReleaseJson {
  return {
    version: releaseName(r.version),
    current: r.version === currentVersion,
    went_live: r.liveAt !== null,
    live_at: r.liveAt,
    commit_sha: r.commitSha,
    description: r.description,
    author: r.author,
    created_at: r.createdAt,
    process_types: Object.keys(r.processes),
    buildpacks: [...(r.manifest?.buildpacks ?? [])],
    addons: [...(r.manifest?.addons ?? [])],
  };
}

/** `nodes`: where the runtime placed each container (swarm), by id; none elsewhere. */
export function containerJson(c: ContainerRecord, nodes?: ReadonlyMap<string, string>): ContainerJson {
  const node = nodes?.get(c.id);
  return {
    name: c.name,
    type: c.type,
    state: c.state,
    release: releaseName(c.releaseVersion),
    started_at: c.startedAt,
    restarts: c.restarts,
    ...(node === undefined ? {} : { node }),
  };
}

/** A one-off run once its container started: its name and release. */
export const startedJson = (run: OneOffRun): RunDetachedJson => ({
  container: run.name,
  release: run.release,
  current: run.current,
});
