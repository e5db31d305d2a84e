// The Procfile-only fast path. When no buildpack is set and the first
// built-in to detect the app is `procfile` (whose compile does nothing),
// there is nothing to run in a sandbox: the build is the source as it is. The
// built-ins' detect scripts are the repository's own, and only test files, so
// they run on the host, in one shell; `inline`'s would run the app's own
// bin/detect, so its rule (an executable bin/detect or bin/compile in the app)
// is checked here instead, and such an app always takes the sandboxed path.

import fs from 'node:fs';
import path from 'node:path';
import { HELPER_ENV, runProcess } from '../exec/index.ts';
import type { LocatedBuildpack } from './fetch-buildpack.ts';

/** Runs detect scripts in order, in one shell; prints the folder of the first that detects the app. */
const FIRST_DETECTING =
  'b=$1; shift; for bp; do if "$bp/bin/detect" "$b" >/dev/null 2>&1; then echo "$bp"; exit 0; fi; done';

/** True when the built-ins, tried in order, would pick `procfile` for `buildDir`. */
export async function nothingToBuild(buildDir: string, builtins: readonly LocatedBuildpack[]): Promise<boolean> {
  const inline = ['detect', 'compile'].some((script) => isExecutable(path.join(buildDir, 'bin', script)));
  const before = builtins.slice(0, builtins.findIndex((bp) => bp.label === 'procfile') + 1);
  const procfile = before.at(-1);
  if (procfile?.label !== 'procfile') return false;
  // Inline comes before procfile: an app with its own scripts is never "nothing to build".
  if (inline && before.some((bp) => bp.label === 'inline')) return false;
  const scripts = before.filter((bp) => bp.label !== 'inline').map((bp) => bp.dir);
  let first = '';
  await runProcess(['/bin/sh', '-c', FIRST_DETECTING, 'detect', buildDir, ...scripts], {
    env: HELPER_ENV,
    onLine: (stream, line) => {
      if (stream === 'stdout' && first === '') first = line;
    },
    timeoutMs: 10_000,
  });
  return first === procfile.dir;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
