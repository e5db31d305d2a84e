// Streams a deployment's log until it ends and reports the outcome.

import type { DeploymentJson } from '../core/api-json.ts';
import type { ApiClient } from './api-client.ts';
import { EXIT } from './exit-codes.ts';
import type { Io } from './output.ts';

export async function followDeployment(
  client: ApiClient,
  io: Io,
  app: string,
  id: string,
  quiet = false,
): Promise<DeploymentJson> {
  let final: DeploymentJson | undefined;
  await client.events(`/api/apps/${app}/deployments/${id}/logs`, (event, data) => {
    if (event === 'end') final = JSON.parse(data) as DeploymentJson;
    else if (!quiet) io.out(data);
  });
  // The stream can end without an `end` event (server restart): ask for the record.
  return final ?? (await client.request<DeploymentJson>('GET', `/api/apps/${app}/deployments/${id}`));
}

export function describeOutcome(d: DeploymentJson): string {
  if (d.status === 'success') return `Deployment ${d.id} succeeded: ${d.release} is live`;
  const why = d.error ? `: ${d.error.message}` : '';
  return `Deployment ${d.id} failed with status ${d.status}${d.step ? ` at step ${d.step}` : ''}${why}`;
}

/** Streams the log (or, with `json`, prints the final record) and sets the exit code: 0 only on success. */
export async function followToOutcome(
  client: ApiClient,
  io: Io,
  deployment: DeploymentJson,
  json: boolean | undefined,
  setExit: (code: number) => void,
): Promise<void> {
  const final = await followDeployment(client, io, deployment.app, deployment.id, json);
  if (json) io.out(JSON.stringify(final, null, 2));
  else if (final.status === 'success') io.out(describeOutcome(final));
  else io.err(describeOutcome(final));
  setExit(final.status === 'success' ? EXIT.ok : EXIT.deployFailed);
}

/**
 * A change applied through a config release (env:set, addons, volumes): says what changed,
 * follows the restart when the app runs (quietly), and on failure says why, then `notLive`
 * (what still runs), with the exit code for a failed deployment.
 */
export async function followRestart(
  client: ApiClient,
  io: Io,
  setExit: (code: number) => void,
  change: {
    readonly app: string;
    readonly deployment: DeploymentJson | null;
    readonly summary: string;
    /** Said after the summary when the app has no release to restart. */
    readonly noRelease: string;
    readonly notLive: string;
  },
): Promise<void> {
  const { app, deployment, summary } = change;
  if (deployment === null) return io.out(`${summary} (${change.noRelease})`);
  io.out(`${summary}; restarting ${app} (deployment ${deployment.id})...`);
  const final = await followDeployment(client, io, app, deployment.id, true);
  if (final.status === 'success') return io.out(`Done: ${final.release} is live`);
  io.err(describeOutcome(final));
  io.err(change.notLive);
  setExit(EXIT.deployFailed);
}
