// app.json / scalingo.json: the scripts the deploy hook reads, and clear errors
// for a manifest that cannot be used.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlipwayError } from '../../src/core/errors.ts';
import { type ManifestFile, parseManifest } from '../../src/core/parse-manifest.ts';

function manifestError(file: ManifestFile, text: string): SlipwayError {
  let caught: unknown;
  try {
    parseManifest(file, text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SlipwayError, `expected a SlipwayError, got ${String(caught)}`);
  assert.equal(caught.code, 'manifest.invalid');
  assert.match(caught.message, new RegExp(file.replace('.', '\\.')));
  return caught;
}

describe('parseManifest: scripts', () => {
  for (const file of ['app.json', 'scalingo.json'] as const) {
    test(`${file}: scripts.postdeploy and scripts.first-deploy are read`, () => {
      const text = JSON.stringify({
        scripts: { postdeploy: 'bundle exec rake db:migrate', 'first-deploy': 'bundle exec rake db:setup' },
      });
      assert.deepEqual(parseManifest(file, text), {
        file,
        postdeploy: 'bundle exec rake db:migrate',
        firstDeploy: 'bundle exec rake db:setup',
      });
    });
  }

  test('either script may be given alone', () => {
    assert.deepEqual(parseManifest('app.json', '{"scripts":{"postdeploy":"./migrate"}}'), {
      file: 'app.json',
      postdeploy: './migrate',
      firstDeploy: null,
    });
    assert.deepEqual(parseManifest('scalingo.json', '{"scripts":{"first-deploy":"./setup"}}'), {
      file: 'scalingo.json',
      postdeploy: null,
      firstDeploy: './setup',
    });
  });

  test('a manifest without scripts (or with empty or null scripts) is fine and defines no hook', () => {
    for (const text of [
      '{}',
      '{"name":"my-app"}',
      '{"scripts":{}}',
      '{"scripts":null}',
      '{"scripts":{"postdeploy":null}}',
    ]) {
      assert.deepEqual(
        parseManifest('app.json', text),
        { file: 'app.json', postdeploy: null, firstDeploy: null },
        text,
      );
    }
  });

  test('fields the build does not use are ignored, whatever their shape; buildpacks, add-ons and quantities are recorded', () => {
    const text = JSON.stringify({
      name: 'demo',
      description: 'x',
      env: { SECRET: { generator: 'secret' } },
      formation: { web: { quantity: 1 }, worker: { size: 'L' } },
      addons: ['heroku-postgresql'],
      buildpacks: [{ url: 'heroku/nodejs' }],
      scripts: { postdeploy: 'npm run migrate', 'pr-predestroy': 'x', test: 42 },
    });
    assert.deepEqual(parseManifest('app.json', text), {
      file: 'app.json',
      postdeploy: 'npm run migrate',
      firstDeploy: null,
      buildpacks: ['heroku/nodejs'],
      addons: ['heroku-postgresql'],
      formation: { web: 1 },
    });
  });

  test('a UTF-8 byte order mark is tolerated', () => {
    assert.equal(parseManifest('app.json', '\uFEFF{"scripts":{"postdeploy":"./m"}}').postdeploy, './m');
  });

  test('shell syntax in a script is kept as written', () => {
    const cmd = 'bin/migrate && ./scripts/seed.sh "$DATABASE_URL" || true';
    assert.equal(parseManifest('app.json', JSON.stringify({ scripts: { postdeploy: cmd } })).postdeploy, cmd);
  });
});

describe('parseManifest: errors', () => {
  test('invalid JSON is manifest.invalid naming the file', () => {
    for (const text of ['', '{', "{'scripts': {}}", '{"scripts": {"postdeploy": "x",}}']) {
      manifestError('app.json', text);
      manifestError('scalingo.json', text);
    }
  });

  test('scripts.postdeploy that is not a string is manifest.invalid with the JSON path', () => {
    for (const value of [42, true, ['a', 'b'], { command: 'x' }]) {
      const err = manifestError('app.json', JSON.stringify({ scripts: { postdeploy: value } }));
      assert.match(err.message, /scripts\.postdeploy/, JSON.stringify(value));
    }
  });

  test('scripts.first-deploy that is not a string is manifest.invalid with the JSON path', () => {
    const err = manifestError('scalingo.json', '{"scripts":{"first-deploy":7}}');
    assert.match(err.message, /scripts\.first-deploy/);
  });

  test('scripts that is not an object is manifest.invalid with the JSON path', () => {
    const err = manifestError('app.json', '{"scripts":"npm run migrate"}');
    assert.match(err.message, /scripts/);
  });

  test('a top level that is not an object is manifest.invalid', () => {
    for (const text of ['[]', '"x"', '42', 'null']) manifestError('app.json', text);
  });
});
