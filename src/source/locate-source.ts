// What a source URL names: a git repository (and which ref) or a tarball.
// The URL's own spelling decides when it can, in this order:
//   1. a path ending in .tar.gz or .tgz is a tarball;
//   2. a fragment names a git ref (Scalingo's button: <repo>#<branch>);
//   3. a path ending in .git is a git repository;
//   4. /OWNER/REPO/tree/REF (GitHub's browse URL, Heroku's button) is the
//      repository /OWNER/REPO at REF;
//   5. a ref given beside the URL (git_ref, --ref) makes it git;
//   6. otherwise the server is asked (answersGit): a repository served over
//      git's smart HTTP, as GitHub serves https://github.com/OWNER/REPO, answers
//      GET <url>/info/refs?service=git-upload-pack with its advertisement;
//      anything else is downloaded as a tarball.
// A ref given beside the URL wins over one the URL names.

import type { FetchLimits } from './fetch-url.ts';
import { requestOnce, shownUrl } from './fetch-url.ts';

export interface SourceLocation {
  /** The URL to fetch: the repository's (without fragment or /tree/REF), or the tarball's. */
  readonly url: URL;
  readonly ref: string | null;
  /** `ask`: only the server can tell (answersGit). */
  readonly kind: 'git' | 'tarball' | 'ask';
}

const TARBALL_PATH = /\.(tar\.gz|tgz)$/i;
const GIT_PATH = /\.git\/?$/i;
const GITHUB_TREE = /^(\/[^/]+\/[^/]+)\/tree\/(.+?)\/?$/;

export function locateSource(url: URL, ref: string | null): SourceLocation {
  const bare = new URL(url.href);
  bare.hash = '';
  if (TARBALL_PATH.test(url.pathname)) return { url: bare, ref, kind: 'tarball' };
  const fragment = url.hash.length > 1 ? decoded(url.hash.slice(1)) : null;
  if (fragment !== null || GIT_PATH.test(url.pathname)) return { url: bare, ref: ref ?? fragment, kind: 'git' };
  const tree = GITHUB_TREE.exec(url.pathname);
  if (tree) {
    bare.pathname = tree[1] as string;
    return { url: bare, ref: ref ?? decoded(tree[2] as string), kind: 'git' };
  }
  return { url: bare, ref, kind: ref === null ? 'ask' : 'git' };
}

/** Percent-decoded when it decodes (a ref with stray `%` is left as it is, for the ref check to refuse). */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const ADVERTISEMENT = 'application/x-git-upload-pack-advertisement';

/**
 * True when `url` is a repository served over git's smart HTTP (its
 * upload-pack advertisement, status 200, no redirect followed). A server that
 * cannot be reached is a fetch failure with its reason, not a "no".
 */
export async function answersGit(url: URL, limits: FetchLimits): Promise<boolean> {
  const probe = new URL(url.href);
  probe.pathname = `${probe.pathname.replace(/\/+$/, '')}/info/refs`;
  probe.search = '?service=git-upload-pack';
  const total = AbortSignal.timeout(limits.connectTimeoutMs);
  const response = await requestOnce(probe, limits, total, shownUrl(url), { 'user-agent': 'git/slipway' });
  response.destroy();
  return response.statusCode === 200 && (response.headers['content-type'] ?? '').startsWith(ADVERTISEMENT);
}
