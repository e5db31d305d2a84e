// Turns a source URL (+ ref) into a checked .tar.gz ready for
// pipeline.deployArchive: a git repository (locate-source.ts says which URLs
// are) is fetched by git, a tarball is downloaded, refused like an upload when
// unsafe (checkArchive), and unwrapped when it holds a single top folder
// (GitHub's `owner-repo-sha/`).

import fs from 'node:fs';
import path from 'node:path';
import { create } from 'tar';
import { isSlipwayError, SlipwayError } from '../core/errors.ts';
import { extractTarball } from './extract-tarball.ts';
import { fetchGitCommit, isValidRef } from './fetch-git.ts';
import { downloadTarball, type FetchLimits, shownUrl } from './fetch-url.ts';
import { answersGit, locateSource } from './locate-source.ts';
import { unwrapSingleTopDir } from './unwrap-single-top-dir.ts';

export interface SourceRequest {
  readonly url: URL;
  readonly ref: string | null;
  readonly spoolDir: string;
  readonly limits: FetchLimits;
  /** Refuses an unsafe or malformed archive (SlipwayError `source.*`). */
  readonly checkArchive: (file: string) => Promise<unknown>;
  /** Sent to a git server as basic auth (GitHub tokens). */
  readonly token?: string | null;
}

export interface FetchedSource {
  /** The archive to deploy (the caller's, or the deployment's once handed over). */
  readonly file: string;
  readonly commitSha: string | null;
  readonly gitRef: string | null;
  /** One line for the deployment log. */
  readonly summary: string;
}

export async function fetchSource(request: SourceRequest): Promise<FetchedSource> {
  const { spoolDir, limits } = request;
  const { url, ref, kind } = locateSource(request.url, request.ref);
  if (ref !== null && !isValidRef(ref)) {
    throw new SlipwayError('request.invalid', `the git ref ${JSON.stringify(ref)} has invalid characters`);
  }
  const git = kind === 'ask' ? await answersGit(url, limits) : kind === 'git';
  let file: string;
  let fetched: Omit<FetchedSource, 'file'>;
  if (git) {
    const commit = await fetchGitCommit(url, ref ?? 'HEAD', spoolDir, limits, request.token ?? null);
    file = commit.file;
    fetched = {
      commitSha: commit.sha,
      gitRef: ref,
      summary: `Commit ${commit.sha} by ${commit.author}: ${commit.subject}`,
    };
  } else {
    file = await downloadTarball(url, spoolDir, limits);
    fetched = { commitSha: null, gitRef: ref, summary: `Fetched ${shownUrl(url)}` };
  }
  try {
    await request.checkArchive(file).catch((err) => {
      // A URL that named neither: say that it was tried as both.
      if (kind !== 'ask' || !isSlipwayError(err) || err.code !== 'source.invalid_archive') throw err;
      throw new SlipwayError(
        'source.invalid_archive',
        `${shownUrl(url)} is not a git repository (no answer to git's smart HTTP), and not a .tar.gz archive: ${err.message}`,
      );
    });
    if (!git) file = await unwrapTarball(file, spoolDir);
    return { file, ...fetched };
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    throw err;
  }
}

/** Repacks a (checked) tarball without its single top folder; returns the file to use. */
async function unwrapTarball(file: string, spoolDir: string): Promise<string> {
  const dir = `${file}.d`;
  await fs.promises.mkdir(dir, { mode: 0o700 });
  try {
    await extractTarball(file, dir);
    if (!(await unwrapSingleTopDir(dir))) return file;
    const unwrapped = path.join(spoolDir, `${path.basename(file, '.tar.gz')}-unwrapped.tar.gz`);
    await create({ gzip: true, cwd: dir, portable: true, file: unwrapped }, await fs.promises.readdir(dir));
    await fs.promises.rm(file, { force: true });
    return unwrapped;
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
