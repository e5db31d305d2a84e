// A deployment's commit SHA: the commit's hex id, or, for a directory deployed
// from a git work tree with uncommitted changes, that id + `-dirty` (as
// `git describe --dirty` marks it): the source is not exactly that commit.

export const DIRTY_SUFFIX = '-dirty';

/** What the API accepts as `commit_sha` (case-insensitive). */
export const COMMIT_SHA = /^[0-9a-f]{7,64}(-dirty)?$/i;

/** The first `length` hex digits, keeping the dirty mark: `e26887e`, `e26887e-dirty`. */
export function shortCommit(sha: string, length = 7): string {
  const dirty = sha.endsWith(DIRTY_SUFFIX);
  const hex = dirty ? sha.slice(0, -DIRTY_SUFFIX.length) : sha;
  return `${hex.slice(0, length)}${dirty ? DIRTY_SUFFIX : ''}`;
}
