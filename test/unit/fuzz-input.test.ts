// Property-based tests (fast-check) of every parser and name rule that takes
// user input: whatever the input, the result is either a valid value or a
// SlipwayError with the module's own code, never a crash of another kind; and
// archives, however hostile, never write outside their destination.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { isSlipwayError } from '../../src/core/errors.ts';
import { validateAppName, validateConfigKey, validateConfigValue, validateHostname } from '../../src/core/names.ts';
import { parseManifest } from '../../src/core/parse-manifest.ts';
import { parseProcfile } from '../../src/core/parse-procfile.ts';
import { checkTarball, extractTarball } from '../../src/source/index.ts';
import { type RawEntry, rawTarball } from '../helpers/hostile-tarball.ts';

const RUNS = 2_000;

/** Runs `fn`; a thrown error must be a SlipwayError whose code starts with `prefix`. */
function okOrCoded<T>(prefix: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    assert.ok(isSlipwayError(err), `expected a SlipwayError, got ${String(err)}`);
    assert.ok(err.code.startsWith(prefix), `code ${err.code} is not ${prefix}*`);
    assert.ok(err.message.length > 0 && !err.message.includes('\n    at '), 'a message, not a stack');
    return undefined;
  }
}

const procfileLine = fc.oneof(
  fc.string(),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), fc.string()).map(([t, c]) => `${t}: ${c}`),
  fc.constantFrom('', '# comment', '\r', ':', 'postdeploy: ./migrate && echo ok', 'web:', '\uFEFFweb: x'),
);

describe('fuzz: Procfile parser', () => {
  test('any text parses or fails with procfile.* naming a line', () => {
    fc.assert(
      fc.property(fc.array(procfileLine, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
        const parsed = okOrCoded('procfile.', () => parseProcfile(lines.join(eol)));
        if (!parsed) return;
        assert.ok(!('postdeploy' in parsed.processes), 'the hook is never a process type');
        for (const [type, command] of Object.entries(parsed.processes)) {
          assert.match(type, /^[A-Za-z0-9_-]+$/);
          assert.ok(command.length > 0 && command === command.trim());
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('well-formed Procfiles round-trip: every declared type with its exact command', () => {
    const entry = fc.tuple(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
      fc.string({ minLength: 1 }).filter((c) => c.trim() !== '' && !/[\r\n]/.test(c)),
    );
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: ([t]) => t, maxLength: 8 }), (entries) => {
        const text = entries.map(([t, c]) => `${t}:  ${c}  `).join('\n');
        const parsed = parseProcfile(text);
        const expected = Object.fromEntries(entries.filter(([t]) => t !== 'postdeploy').map(([t, c]) => [t, c.trim()]));
        assert.deepEqual({ ...parsed.processes }, expected);
        assert.equal(parsed.postdeploy, entries.find(([t]) => t === 'postdeploy')?.[1].trim() ?? null);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: manifest parser', () => {
  test('any text or JSON value parses or fails with manifest.invalid', () => {
    const text = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({ scripts: fc.record({ postdeploy: fc.jsonValue(), 'first-deploy': fc.jsonValue() }) })
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(fc.constantFrom('app.json' as const, 'scalingo.json' as const), text, (file, body) => {
        const parsed = okOrCoded('manifest.', () => parseManifest(file, body));
        if (!parsed) return;
        for (const script of [parsed.postdeploy, parsed.firstDeploy]) {
          assert.ok(script === null || (typeof script === 'string' && script.trim() === script && script !== ''));
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: names', () => {
  test('app names: accepted ones are DNS labels, everything else is app.invalid_name', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[a-z0-9-]{0,34}$/)), (name) => {
        const ok = okOrCoded('app.invalid_name', () => validateAppName(name));
        if (ok === undefined) return;
        assert.equal(ok, name);
        assert.match(ok, /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/);
        assert.ok(!ok.includes('--'));
      }),
      { numRuns: RUNS },
    );
  });

  test('config keys are shell names; values keep every byte (newlines, quotes, $) but NUL', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: 'binary' }), (key, value) => {
        const k = okOrCoded('config.invalid_key', () => validateConfigKey(key));
        if (k !== undefined) assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/);
        const v = okOrCoded('config.invalid_value', () => validateConfigValue('K', value));
        if (v !== undefined) assert.equal(v, value);
        else assert.ok(value.includes('\0'));
      }),
      { numRuns: RUNS },
    );
  });

  test('custom domains: accepted ones are lowercase DNS names outside the platform domain', () => {
    const host = fc.oneof(
      fc.string(),
      fc.domain(),
      fc.domain().map((d) => `${d}.localhost`),
      fc.webUrl(),
    );
    fc.assert(
      fc.property(host, (value) => {
        const ok = okOrCoded('domain.invalid', () => validateHostname(value, 'localhost'));
        if (ok === undefined) return;
        assert.equal(ok, ok.toLowerCase());
        assert.ok(ok.length <= 253 && ok.includes('.'));
        assert.match(ok, /^[a-z0-9.-]+$/);
        assert.ok(!ok.endsWith('.localhost'));
        assert.doesNotMatch(ok, /\.[0-9]+$/, 'a top-level label is never all digits (an IP address is not a domain)');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: archive extraction', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-fuzz-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const segment = fc.constantFrom('a', 'b', '..', '.', '', 'Procfile', 'etc', 'x y', '\u00e9');
  const entryPath = fc.oneof(
    fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
    fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join('/')}`),
  );
  const entry: fc.Arbitrary<RawEntry> = fc.record({
    path: entryPath,
    type: fc.constantFrom('File', 'Directory', 'SymbolicLink', 'Link', 'FIFO', 'CharacterDevice') as fc.Arbitrary<
      RawEntry['type']
    >,
    body: fc.string({ maxLength: 20 }),
    linkpath: fc.oneof(entryPath, fc.constantFrom('/etc/passwd', '../../outside', 'a')),
  });

  test('hostile archives are extracted inside the destination or refused with source.*', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 6 }), async (entries) => {
        const dir = path.join(root, String(n++));
        const dest = path.join(dir, 'dest');
        const outside = path.join(dir, 'outside');
        fs.mkdirSync(dest, { recursive: true });
        fs.mkdirSync(outside);
        const archive = path.join(dir, 'a.tar.gz');
        fs.writeFileSync(archive, rawTarball(entries));
        let checked = true;
        try {
          await checkTarball(archive);
        } catch (err) {
          assert.ok(isSlipwayError(err) && err.code.startsWith('source.'), `check: ${String(err)}`);
          checked = false;
        }
        try {
          await extractTarball(archive, dest);
        } catch (err) {
          assert.ok(isSlipwayError(err) && err.code.startsWith('source.'), `extract: ${String(err)}`);
        }
        assert.deepEqual(fs.readdirSync(outside), [], 'nothing written next to the destination');
        assert.deepEqual(fs.readdirSync(dir).sort(), ['a.tar.gz', 'dest', 'outside']);
        for (const file of fs.readdirSync(dest, { recursive: true }) as string[]) {
          const full = path.join(dest, file);
          const stat = fs.lstatSync(full);
          assert.ok(stat.isFile() || stat.isDirectory() || stat.isSymbolicLink(), `${file}: no device or FIFO`);
          if (stat.isSymbolicLink()) {
            const target = path.resolve(path.dirname(full), fs.readlinkSync(full));
            assert.ok(target.startsWith(dest + path.sep) || target === dest, `${file} points inside`);
          }
        }
        if (!checked) return; // what the API refuses never reaches extraction anyway
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 300 },
    );
  });
});
