// The CLI's human output: colour only when allowed, tables aligned either way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Io, paintStatus, table } from '../../src/cli/output.ts';

const io = (color: boolean): Io => ({ out: () => {}, err: () => {}, env: {}, cwd: '/', color });

test('statuses are coloured on a colour terminal and plain otherwise', () => {
  assert.equal(paintStatus(io(false), 'hook-error'), 'hook-error');
  assert.equal(paintStatus(io(true), 'success'), '\x1b[32msuccess\x1b[0m');
  assert.equal(paintStatus(io(true), 'queued'), '\x1b[33mqueued\x1b[0m');
  assert.equal(paintStatus(io(true), 'crashed'), '\x1b[31mcrashed\x1b[0m');
});

test('colour codes do not break column alignment', () => {
  const rows = [
    [paintStatus(io(true), 'up'), 'web-1'],
    [paintStatus(io(true), 'crashed'), 'worker-1'],
  ];
  const plain = table(
    [
      ['up', 'web-1'],
      ['crashed', 'worker-1'],
    ],
    ['STATE', 'NAME'],
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes
  assert.equal(table(rows, ['STATE', 'NAME']).replace(/\x1b\[[0-9;]*m/g, ''), plain);
  assert.equal(plain, 'STATE    NAME\nup       web-1\ncrashed  worker-1');
});
