// Commit statuses: POST {api}/repos/{owner}/{repo}/statuses/{sha}. Reporting is
// best effort: a failure (network, timeout, non-2xx) is returned as a message
// for the caller to log, never thrown.

export type StatusState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  readonly apiUrl: string;
  /** `owner/repo`. */
  readonly repo: string;
  readonly sha: string;
  readonly token: string;
  readonly state: StatusState;
  readonly targetUrl: string;
  readonly context: string;
  readonly description: string;
}

const STATUS_TIMEOUT_MS = 10_000;

/** Resolves null when GitHub accepted the status, else why it did not. */
export async function postCommitStatus(status: CommitStatus, timeoutMs = STATUS_TIMEOUT_MS): Promise<string | null> {
  const url = `${status.apiUrl}/repos/${status.repo}/statuses/${status.sha}`;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${status.token}`,
        accept: 'application/vnd.github+json',
        'content-type': 'application/json',
        'user-agent': 'slipway',
      },
      body: JSON.stringify({
        state: status.state,
        target_url: status.targetUrl,
        description: status.description.slice(0, 140),
        context: status.context,
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return response.ok ? null : `HTTP ${response.status}`;
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message;
  }
}
