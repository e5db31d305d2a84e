// Runs a list of buildpacks over a build directory through the build's runner
// (bare, or sandboxed as the app's user): copies them into the build's
// workspace (seen read-only by the build), starts the driver script
// (buildpack-driver.ts), streams the build output, and turns what the driver
// reports into the buildpacks' names and releases, or a `build.failed` that
// names the buildpack and its exit code.

import { randomBytes } from 'node:crypto';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import { DRIVER_SCRIPT, type DriverEvent, parseDriverLine } from './buildpack-driver.ts';
import type { LocatedBuildpack } from './fetch-buildpack.ts';
import { type ReleaseInfo, readReleaseYaml } from './read-release-yaml.ts';
import { type BuildCommandOptions, type KeptLayer, runBuildCommand } from './run-build-command.ts';

export interface BuildpackRun {
  /** `auto`: the first that detects runs; `listed`: all run, in order. */
  readonly mode: 'auto' | 'listed';
  /** Their copies in the workspace (stageBuildpacks). */
  readonly buildpacks: readonly StagedBuildpack[];
  readonly buildDir: string;
  readonly cacheDir: string;
  /** Read-only for the build: holds the buildpacks' copies (`bp/<n>`) and ENV_DIR (`env`). */
  readonly workspace: string;
  readonly cacheCapBytes: number;
  /** The first buildpack's kept layer, when the runner mounted it under the build dir. */
  readonly kept?: KeptLayer | null;
}

export interface RanBuildpack {
  readonly label: string;
  /** What its bin/detect printed (its first line), or its label. */
  readonly name: string;
  readonly release: ReleaseInfo;
}

export interface StagedBuildpack extends LocatedBuildpack {
  /** Its copy in the workspace. */
  readonly staged: string;
}

/** Copies the buildpacks into the workspace (`bp/<n>`), where the build can read them. */
export function stageBuildpacks(workspace: string, buildpacks: readonly LocatedBuildpack[]): StagedBuildpack[] {
  return buildpacks.map((bp, i) => {
    const staged = path.join(workspace, 'bp', String(i));
    // Without its .git: a fetched commit has none, a local folder may.
    cpSync(bp.dir, staged, { recursive: true, filter: (src) => path.basename(src) !== '.git' });
    return { ...bp, staged };
  });
}

export async function runBuildpacks(
  run: BuildpackRun,
  command: Omit<BuildCommandOptions, 'cwd' | 'label'>,
): Promise<RanBuildpack[]> {
  const nonce = randomBytes(12).toString('hex');
  // A kept layer stored beside the cache (the sandbox's, kept-layer.ts) counts in its cap.
  const keptKib = run.kept?.kib ?? 0;
  const events: DriverEvent[] = [];
  let current: number | null = null;
  const labelOf = (i: number | null) => (i === null ? null : (buildpackAt(run, events, i)?.label ?? null));
  const argv = [
    '/bin/sh',
    '-c',
    DRIVER_SCRIPT,
    'slipway-build',
    nonce,
    run.buildDir,
    run.cacheDir,
    path.join(run.workspace, 'env'),
    String(Math.max(1, Math.floor(run.cacheCapBytes / 1024) - keptKib)),
    run.mode,
    run.kept?.cacheKey ?? '',
    run.kept?.names.join(' ') ?? '',
    ...run.buildpacks.flatMap((bp) => [bp.staged, bp.cacheKey]),
  ];
  await runBuildCommand(argv, {
    ...command,
    cwd: run.buildDir,
    label: () => {
      const label = labelOf(current);
      return label === null ? 'the build' : `buildpack ${label}: bin/compile`;
    },
    onLine: (line) => {
      const event = parseDriverLine(nonce, line);
      if (event === null) return command.onLine(line);
      events.push(event);
      if (event.kind === 'compile') current = event.index;
      report(event.kind === 'cache' ? { ...event, kib: event.kib + keptKib } : event, run, events, command.onLine);
    },
  });
  return settle(run, events);
}

/** The buildpack the driver's number `index` is: in auto mode it runs only the candidate that detected the app. */
function buildpackAt(run: BuildpackRun, events: readonly DriverEvent[], index: number): LocatedBuildpack | undefined {
  if (run.mode === 'listed') return run.buildpacks[index];
  const detected = events.find((e) => e.kind === 'detected');
  return detected?.kind === 'detected' ? run.buildpacks[detected.index] : undefined;
}

function report(event: DriverEvent, run: BuildpackRun, events: readonly DriverEvent[], onLine: (l: string) => void) {
  switch (event.kind) {
    case 'evicted':
      onLine(`       build cache over its cap: removed the oldest buildpack cache (${event.key})`);
      break;
    case 'cache':
      onLine(
        event.buildpacks === 0
          ? '-----> Build cache: empty (a first build, or cleared by builds:clear-cache)'
          : `-----> Build cache: ${formatBytes(event.kib * 1024)} in ${event.buildpacks} buildpack cache(s) (cap ${formatBytes(run.cacheCapBytes)})`,
      );
      break;
    case 'compile': {
      onLine(`-----> Using buildpack: ${buildpackAt(run, events, event.index)?.label ?? '?'}`);
      if (event.name) onLine(`-----> ${event.name} app detected`);
      break;
    }
    default:
      break;
  }
}

function settle(run: BuildpackRun, events: readonly DriverEvent[]): RanBuildpack[] {
  if (events.some((e) => e.kind === 'none')) {
    const tried = run.buildpacks.map((bp) => bp.label).join(', ');
    throw new SlipwayError(
      'build.failed',
      `no buildpack detected this app (tried ${tried}): add a Procfile, or set a buildpack (slipway buildpacks:set)`,
    );
  }
  const failure = events.find((e) => e.kind === 'failed');
  if (failure?.kind === 'failed') {
    const label = buildpackAt(run, events, failure.index)?.label ?? '?';
    throw new SlipwayError(
      'build.failed',
      failure.code === null
        ? `buildpack ${label}: has no executable bin/compile`
        : `buildpack ${label}: bin/${failure.phase} exited with code ${failure.code}`,
    );
  }
  if (!events.some((e) => e.kind === 'done')) throw new SlipwayError('build.failed', 'the build ended unexpectedly');
  return events.flatMap((e) => {
    if (e.kind !== 'compile') return [];
    const label = buildpackAt(run, events, e.index)?.label ?? '?';
    const released = events.find((r) => r.kind === 'release' && r.index === e.index);
    const release = released?.kind === 'release' ? readReleaseYaml(released.yaml, label) : readReleaseYaml('', label);
    return [{ label, name: e.name || label, release }];
  });
}
