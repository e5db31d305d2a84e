// What Slipway reads of a GitHub `push` webhook payload, and whether a push
// deploys a linked app (or why not: the reason goes back in the 202 answer).

import type { GithubLink } from '../store/types.ts';

export interface PushEvent {
  /** `owner/repo` as GitHub names it. */
  readonly repo: string;
  readonly ref: string;
  /** The commit the branch now points at. */
  readonly sha: string;
  readonly deleted: boolean;
  readonly pusher: string | null;
}

const SHA = /^[0-9a-f]{40}$/;

/** The repository's `owner/repo` of any event payload, if it names one. */
export function payloadRepo(payload: unknown): string | null {
  const name = (payload as { repository?: { full_name?: unknown } } | null)?.repository?.full_name;
  return typeof name === 'string' ? name : null;
}

export function parsePush(payload: unknown): PushEvent | null {
  const p = payload as { ref?: unknown; after?: unknown; deleted?: unknown; pusher?: { name?: unknown } } | null;
  const repo = payloadRepo(payload);
  if (!repo || typeof p?.ref !== 'string' || typeof p.after !== 'string') return null;
  const deleted = p.deleted === true || /^0{40}$/.test(p.after);
  if (!deleted && !SHA.test(p.after)) return null;
  const pusher = typeof p.pusher?.name === 'string' ? p.pusher.name : null;
  return { repo, ref: p.ref, sha: p.after, deleted, pusher };
}

/** Null when the push deploys the link's app, else why it does not. */
export function ignoreReason(link: GithubLink, push: PushEvent): string | null {
  if (push.ref !== `refs/heads/${link.branch}`) return `${push.ref} is not the linked branch ${link.branch}`;
  if (push.deleted) return 'the branch was deleted';
  if (!link.autoDeploy) return 'auto-deploy is off';
  return null;
}
