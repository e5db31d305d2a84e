// Build step (`npm run build`, after tsc): bundles the compiled CLI and server
// into a few files under dist/cli/bundle/, which bin/slipway runs. Node 20
// reads ES modules one file at a time (kysely alone is 280 files), and that
// reading was most of a server restart: bundled, the apps answer again
// several hundred milliseconds sooner. Dynamic imports stay separate chunks,
// so what the server loads late (the API, the builder, tar) still loads late.
// The router worker process has its own entry (router-worker.js): it loads
// the proxy only, so a worker starts in a fraction of the server's time.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/cli/bundle');
fs.rmSync(outdir, { recursive: true, force: true }); // chunk names change with their content

await build({
  entryPoints: {
    main: path.join(root, 'dist/cli/main.js'),
    'router-worker': path.join(root, 'dist/router/builtin/workers/worker-process.js'),
    // git's credential helper (bin/slipway git:credentials get): the stored login, nothing else.
    'git-credentials': path.join(root, 'dist/cli/git-credential-helper.js'),
  },
  // Same depth as dist/cli/commands/: code that finds bin/slipway relative to
  // its own file (cli/commands/git.ts) finds it from here too.
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // A native addon, and ws's optional native helpers: resolved from node_modules at run time.
  external: ['better-sqlite3', 'bufferutil', 'utf-8-validate'],
  // The CommonJS packages bundled in (fastify, pino, ...) call require() for Node's own modules.
  banner: {
    js: "import { createRequire as slipwayRequire } from 'node:module'; const require = slipwayRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
