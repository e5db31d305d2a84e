// How a user (or git) calls this very CLI: `bin/slipway` of the checkout (or
// package) this code runs from, written so that a shell runs it as printed.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/slipway above this file, whether it runs from src/, dist/ or dist/cli/bundle/. */
export const SLIPWAY_BIN = findBin(path.dirname(fileURLToPath(import.meta.url)));

function findBin(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const bin = path.join(dir, 'bin', 'slipway');
    if (fs.existsSync(bin)) return bin;
    if (path.dirname(dir) === dir) return 'slipway';
  }
}

/** A word the shell reads back as exactly `word`. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command a user types in `cwd` to run this CLI: `slipway` when the PATH
 * finds this one (npm link, npm install -g), else its path: `./bin/slipway`
 * from the checkout, an absolute path from anywhere else.
 */
export function selfCommand(env: NodeJS.ProcessEnv, cwd: string): string {
  const self = realpath(SLIPWAY_BIN);
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const found = path.resolve(cwd, dir, 'slipway');
    if (!fs.existsSync(found)) continue;
    if (realpath(found) === self) return 'slipway';
    break; // `slipway` would run another one: name this one by its path
  }
  const relative = path.relative(cwd, SLIPWAY_BIN);
  const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
  return shellQuote(inside ? `./${relative}` : SLIPWAY_BIN);
}

function realpath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}
