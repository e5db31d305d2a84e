// Procfile grammar (Heroku/foreman): what a user can write, and the errors that
// point at the offending line.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlipwayError } from '../../src/core/errors.ts';
import { MAX_COMMAND_BYTES, MAX_PROCESS_TYPES, parseProcfile } from '../../src/core/parse-procfile.ts';

function parseError(text: string, code: SlipwayError['code']): SlipwayError {
  let caught: unknown;
  try {
    parseProcfile(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SlipwayError, `expected a SlipwayError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

describe('parseProcfile: accepted input', () => {
  test('one `type: command` per line, in file order', () => {
    const p = parseProcfile('web: node server.js\nworker: node worker.js\n');
    assert.deepEqual(p.processes, { web: 'node server.js', worker: 'node worker.js' });
    assert.deepEqual(Object.keys(p.processes), ['web', 'worker']);
    assert.equal(p.postdeploy, null);
  });

  test('types may use letters, digits, "_" and "-"', () => {
    const p = parseProcfile('Web_2: a\nclock-1: b\nX: c\n');
    assert.deepEqual(p.processes, { Web_2: 'a', 'clock-1': 'b', X: 'c' });
  });

  test('comments and blank lines are skipped', () => {
    const p = parseProcfile('# the web process\n\n   \nweb: node server.js\n  # indented comment\n\n');
    assert.deepEqual(p.processes, { web: 'node server.js' });
  });

  test('an empty Procfile has no processes and no hook', () => {
    assert.deepEqual(parseProcfile(''), { processes: {}, postdeploy: null, release: null });
  });

  test('CRLF line endings do not leak into commands', () => {
    const p = parseProcfile('web: node server.js\r\nworker: node worker.js\r\n');
    assert.deepEqual(p.processes, { web: 'node server.js', worker: 'node worker.js' });
  });

  test('a UTF-8 byte order mark does not become part of the first type', () => {
    const p = parseProcfile('\uFEFFweb: node server.js\n');
    assert.deepEqual(p.processes, { web: 'node server.js' });
  });

  test('whitespace around the colon and the command is optional and trimmed', () => {
    const p = parseProcfile('web:node a.js\nworker :  node b.js  \nclock\t:\tnode c.js\n  indented: node d.js\n');
    assert.deepEqual(p.processes, {
      web: 'node a.js',
      worker: 'node b.js',
      clock: 'node c.js',
      indented: 'node d.js',
    });
  });

  test('only the first colon separates type from command', () => {
    const p = parseProcfile('web: node server.js --listen http://0.0.0.0:$PORT\nworker: a:b:c\n');
    assert.equal(p.processes.web, 'node server.js --listen http://0.0.0.0:$PORT');
    assert.equal(p.processes.worker, 'a:b:c');
  });

  test('shell syntax in a command is kept exactly as written', () => {
    const cmd = `bin/migrate && ./scripts/seed.sh "$DATABASE_URL" || echo 'failed' # not a comment`;
    assert.equal(parseProcfile(`postdeploy: ${cmd}\n`).postdeploy, cmd);
  });

  test('`postdeploy:` is the hook, never a process type', () => {
    const p = parseProcfile('web: node server.js\npostdeploy: npm run migrate\nworker: node w.js\n');
    assert.equal(p.postdeploy, 'npm run migrate');
    assert.deepEqual(p.processes, { web: 'node server.js', worker: 'node w.js' });
    assert.ok(!('postdeploy' in p.processes));
  });

  test('a Procfile with only a hook has no processes', () => {
    assert.deepEqual(parseProcfile('postdeploy: ./migrate\n'), {
      processes: {},
      postdeploy: './migrate',
      release: null,
    });
  });
});

describe('parseProcfile: errors name the line', () => {
  test('a line without a colon is procfile.invalid_line with its number', () => {
    const err = parseError('web: node server.js\n\nworker node worker.js\n', 'procfile.invalid_line');
    assert.match(err.message, /line 3\b/);
  });

  test('line numbers count comments, blank lines and CRLF lines', () => {
    const err = parseError('# c\r\n\r\nweb: a\r\noops\r\n', 'procfile.invalid_line');
    assert.match(err.message, /line 4\b/);
  });

  test('a line with no type before the colon is procfile.invalid_line', () => {
    const err = parseError('web: a\n: node x.js\n', 'procfile.invalid_line');
    assert.match(err.message, /line 2\b/);
  });

  test('a type with characters outside [A-Za-z0-9_-] is procfile.invalid_type', () => {
    for (const type of ['w@b', 'web.1', 'wéb', 'web$']) {
      const err = parseError(`worker: a\n${type}: node server.js\n`, 'procfile.invalid_type');
      assert.match(err.message, /line 2\b/, type);
    }
  });

  test('a type with an empty command is procfile.invalid_line', () => {
    for (const line of ['web:', 'web:   ', 'postdeploy:\t']) {
      const err = parseError(`worker: a\n${line}\n`, 'procfile.invalid_line');
      assert.match(err.message, /line 2\b/, line);
    }
  });

  test('a duplicate type is procfile.duplicate_type naming both lines', () => {
    const err = parseError('web: a\nworker: b\nweb: c\n', 'procfile.duplicate_type');
    assert.match(err.message, /line 3\b/);
    assert.match(err.message, /line 1\b/);
  });

  test('two postdeploy lines are a duplicate too', () => {
    const err = parseError('postdeploy: a\nweb: w\npostdeploy: b\n', 'procfile.duplicate_type');
    assert.match(err.message, /line 3\b/);
    assert.match(err.message, /line 1\b/);
  });
});

describe('parseProcfile: limits', () => {
  test(`more than ${MAX_PROCESS_TYPES} process types is refused at the first one too many`, () => {
    const lines = Array.from({ length: 301 }, (_, i) => `t${i}: sleep 1000`);
    const err = parseError(`postdeploy: true\n${lines.join('\n')}\n`, 'procfile.too_many_types');
    assert.match(
      err.message,
      new RegExp(`line ${MAX_PROCESS_TYPES + 2}: more than ${MAX_PROCESS_TYPES} process types`),
    );
    // Exactly the cap is fine, the hook not counted.
    const atCap = parseProcfile(`postdeploy: true\n${lines.slice(0, MAX_PROCESS_TYPES).join('\n')}\n`);
    assert.equal(Object.keys(atCap.processes).length, MAX_PROCESS_TYPES);
  });

  test('a command with a NUL byte, or longer than the cap, is refused naming its line', () => {
    assert.match(parseError('web: a\nworker: b\0c\n', 'procfile.invalid_line').message, /line 2: .*NUL byte/);
    const long = `web: echo ${'x'.repeat(MAX_COMMAND_BYTES)}\n`;
    assert.match(parseError(long, 'procfile.invalid_line').message, /line 1: .*longer than 4096 bytes/);
    assert.equal(parseProcfile(`web: ${'x'.repeat(MAX_COMMAND_BYTES)}\n`).processes.web?.length, MAX_COMMAND_BYTES);
  });
});

describe('parseProcfile: the release phase', () => {
  test('`release:` is the release phase, not a process type; alongside postdeploy', () => {
    const p = parseProcfile('web: node server.js\nrelease: npm run migrate\npostdeploy: ./notify\n');
    assert.deepEqual(p.processes, { web: 'node server.js' });
    assert.equal(p.release, 'npm run migrate');
    assert.equal(p.postdeploy, './notify');
    assert.equal(parseProcfile('web: x\n').release, null);
  });
});
