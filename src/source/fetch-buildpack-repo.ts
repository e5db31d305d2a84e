// The git transport for buildpacks given as git URLs (build/fetch-buildpack.ts
// keeps one folder per commit): which commit a ref names (ls-remote), and the
// tree of a commit unpacked into a folder, through the same checked fetch as
// URL deploys (fetch-git.ts: http(s) only, checked destinations, size caps).

import fs from 'node:fs';
import { extractTarball } from './extract-tarball.ts';
import { fetchGitCommit, resolveGitRef } from './fetch-git.ts';
import type { FetchLimits } from './fetch-url.ts';

export function gitBuildpackFetcher(spoolDir: string, limits: FetchLimits) {
  return {
    resolve: (url: string, ref: string) => resolveGitRef(new URL(url), ref, spoolDir, limits),
    async fetch(url: string, ref: string, dest: string): Promise<string> {
      const fetched = await fetchGitCommit(new URL(url), ref, spoolDir, limits);
      try {
        await fs.promises.mkdir(dest, { mode: 0o700 });
        await extractTarball(fetched.file, dest, { maxBytes: limits.maxBytes });
      } finally {
        await fs.promises.rm(fetched.file, { force: true });
      }
      return fetched.sha;
    },
  };
}
