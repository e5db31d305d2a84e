// The server's own log as people and machines want it, through the real
// binary: readable lines on a terminal (a pseudo-terminal made by util-linux's
// `script`), JSON lines when the output is not a terminal, and either one on
// request with --log-format.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { spawnProcess } from '../../src/exec/index.ts';
import { BIN, baseEnv } from '../helpers/slipway.ts';
import { waitFor } from '../helpers/wait.ts';

/** Starts `slipway server` (under a pseudo-terminal with `tty`) until it is ready; its output lines. */
async function serverOutput(flags: string[], tty: boolean): Promise<string[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-logfmt-'));
  const argv = [BIN, 'server', '--home', home, '--port', '0', '--router-port', '0', '--runtime', 'process', ...flags];
  const lines: string[] = [];
  const server = spawnProcess(tty ? ['script', '-qfec', argv.join(' '), '/dev/null'] : argv, {
    cwd: home,
    env: baseEnv({ SLIPWAY_LOG_LEVEL: 'info', TERM: 'xterm' }),
    onLine: (_stream, line) => lines.push(line.replace(/\r$/, '')),
  });
  try {
    // The log is written asynchronously: its 'ready' line may follow the login line.
    const ready = () =>
      lines.some((l) => l.startsWith('Log in with:')) && lines.some((l) => l.includes('slipway is ready'));
    await waitFor(ready, 'the server to be ready', 30_000, 50);
    return lines;
  } finally {
    await server.stop(5000);
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const isJson = (line: string) => {
  try {
    return typeof JSON.parse(line).level === 'number';
  } catch {
    return false;
  }
};
// biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's colour codes
const COLOURS = /\x1b\[[0-9;]*m/g;
const logLines = (lines: string[]) => lines.filter((l) => /slipway is ready|Server listening/.test(l));

describe('the server log format', () => {
  test('on a terminal: one readable line per event, with colours', async () => {
    const lines = logLines(await serverOutput([], true));
    assert.ok(lines.length >= 2, lines.join('\n'));
    for (const line of lines) {
      assert.ok(!isJson(line), line);
      assert.match(line.replace(COLOURS, ''), /^\[\d\d:\d\d:\d\d\] INFO: (slipway is ready|Server listening)/);
    }
  });

  test('not on a terminal: JSON lines; --log-format overrides either way', async () => {
    const plain = logLines(await serverOutput([], false));
    assert.ok(plain.length >= 2 && plain.every(isJson), plain.join('\n'));
    const forcedJson = logLines(await serverOutput(['--log-format', 'json'], true));
    assert.ok(forcedJson.length >= 2 && forcedJson.every(isJson), forcedJson.join('\n'));
    const forcedPretty = logLines(await serverOutput(['--log-format', 'pretty'], false));
    assert.ok(forcedPretty.length >= 2, forcedPretty.join('\n'));
    for (const line of forcedPretty) assert.match(line, /^\[\d\d:\d\d:\d\d\] INFO: /, 'no colours off a terminal');
  });
});
