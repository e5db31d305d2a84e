// Deployment lifecycle (DESIGN §1): statuses, steps and the allowed moves.

import type { ErrorCode } from './errors.ts';

export const DEPLOYMENT_STATUSES = [
  'queued',
  'building',
  'pushing',
  'starting',
  'success',
  'build-error',
  'crashed-error',
  'timeout-error',
  'hook-error',
  'aborted',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<DeploymentStatus> = new Set([
  'success',
  'build-error',
  'crashed-error',
  'timeout-error',
  'hook-error',
  'aborted',
]);

export const STEPS = ['fetch', 'build', 'slug', 'release', 'boot', 'hook', 'switch', 'retire'] as const;
export type Step = (typeof STEPS)[number];

/** The status a deployment is in while a step runs. */
export const STATUS_OF_STEP: Readonly<Record<Step, DeploymentStatus>> = {
  fetch: 'building',
  build: 'building',
  slug: 'pushing',
  release: 'pushing',
  boot: 'starting',
  hook: 'starting',
  switch: 'starting',
  retire: 'success',
};

const ACTIVE_ORDER: readonly DeploymentStatus[] = ['queued', 'building', 'pushing', 'starting', 'success'];

export function isFinal(status: DeploymentStatus): boolean {
  return FINAL_STATUSES.has(status);
}

/** Statuses only move forward; a final status never changes again. */
export function canTransition(from: DeploymentStatus, to: DeploymentStatus): boolean {
  if (isFinal(from)) return false;
  if (from === to) return true;
  if (isFinal(to)) return true;
  return ACTIVE_ORDER.indexOf(to) > ACTIVE_ORDER.indexOf(from);
}

/** The final status a failure ends a deployment in. */
export function failureStatus(code: ErrorCode): DeploymentStatus {
  switch (code) {
    case 'deploy.crashed':
    case 'runtime.start_failed':
      return 'crashed-error';
    case 'deploy.boot_timeout':
      return 'timeout-error';
    case 'deploy.hook_failed':
    case 'deploy.hook_timeout':
    case 'deploy.release_failed':
    case 'deploy.release_timeout':
      return 'hook-error';
    case 'deploy.aborted':
      return 'aborted';
    default:
      return 'build-error';
  }
}
