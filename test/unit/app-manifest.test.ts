// The full app manifest the deploy button reads: every field, errors with the
// JSON path, and the env values a new app starts with.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAppManifest, resolveManifestEnv } from '../../src/core/app-manifest.ts';
import { SlipwayError } from '../../src/core/errors.ts';

function refused(text: string, file: 'app.json' | 'scalingo.json' = 'app.json'): string {
  try {
    parseAppManifest(file, text);
  } catch (err) {
    assert.ok(err instanceof SlipwayError, String(err));
    assert.equal(err.code, 'manifest.invalid');
    return err.message;
  }
  assert.fail('the manifest was accepted');
}

const full = {
  name: 'Blog',
  description: 'A small blog',
  repository: 'https://git.example.com/blog',
  website: 'https://blog.example.com',
  logo: 'https://blog.example.com/logo.png',
  keywords: ['blog', 'node'],
  env: {
    GREETING: 'hello',
    SECRET_KEY: { description: 'signs cookies', generator: 'secret' },
    ADMIN_EMAIL: { description: 'who administers', required: true },
    OPTIONAL: { required: false },
    SELF: { generator: 'url' },
    CALLBACK: { generator: 'template', template: '%URL%/auth?app=%APP%' },
  },
  formation: { web: { quantity: 2, size: 's' }, worker: { amount: 1 } },
  scripts: { postdeploy: 'node init.js', 'first-deploy': 'node seed.js' },
  buildpacks: [{ url: 'https://buildpacks.example.com/node' }, 'https://buildpacks.example.com/extra'],
  addons: ['postgresql', { plan: 'redis:small' }, { plan: 'heroku-postgresql', as: 'ANALYTICS' }],
  success_url: '/welcome',
};

describe('parseAppManifest', () => {
  test('reads every field, normalised', () => {
    const m = parseAppManifest('scalingo.json', JSON.stringify(full));
    assert.equal(m.file, 'scalingo.json');
    assert.equal(m.name, 'Blog');
    assert.equal(m.logo, 'https://blog.example.com/logo.png');
    assert.deepEqual(m.keywords, ['blog', 'node']);
    assert.deepEqual(m.env.GREETING, {
      description: null,
      value: 'hello',
      required: true,
      generator: null,
      template: null,
    });
    assert.equal(m.env.SECRET_KEY?.generator, 'secret');
    assert.equal(m.env.ADMIN_EMAIL?.required, true);
    assert.equal(m.env.OPTIONAL?.required, false);
    assert.deepEqual(m.formation, { web: { quantity: 2, size: 'S' }, worker: { quantity: 1, size: null } });
    assert.equal(m.postdeploy, 'node init.js');
    assert.equal(m.firstDeploy, 'node seed.js');
    assert.deepEqual(m.buildpacks, ['https://buildpacks.example.com/node', 'https://buildpacks.example.com/extra']);
    assert.deepEqual(m.addons, [
      { plan: 'postgresql', as: null },
      { plan: 'redis:small', as: null },
      { plan: 'heroku-postgresql', as: 'ANALYTICS' },
    ]);
  });

  test('an empty manifest is valid', () => {
    const m = parseAppManifest('app.json', '{}');
    assert.deepEqual([m.name, m.env, m.formation, m.addons], [null, {}, {}, []]);
  });

  test('an unknown generator is refused with its JSON path', () => {
    const message = refused(JSON.stringify({ env: { SECRET: { generator: 'uuid' } } }));
    assert.equal(message, 'app.json: env.SECRET.generator: unknown generator "uuid" (use secret, url or template)');
  });

  test('a wrong type is refused with its JSON path', () => {
    assert.match(
      refused(JSON.stringify({ formation: { web: { quantity: 'two' } } })),
      /^app\.json: formation\.web\.quantity: /,
    );
    assert.match(refused(JSON.stringify({ keywords: 'blog' })), /^app\.json: keywords: /);
    assert.match(
      refused(JSON.stringify({ env: { X: 42 } }), 'scalingo.json'),
      /^scalingo\.json: env\.X: must be a string or an object/,
    );
    assert.match(refused(JSON.stringify({ env: { X: { required: 'yes' } } })), /^app\.json: env\.X\.required: /);
    assert.match(
      refused(JSON.stringify({ addons: [{ as: 'DB' }] })),
      /^app\.json: addons\.0: must be a plan name or \{plan, as\}/,
    );
    assert.match(refused(JSON.stringify({ addons: [{ plan: 'postgresql', as: 7 }] })), /^app\.json: addons\.0/);
  });

  test('bad values are refused with their JSON path', () => {
    assert.match(
      refused(JSON.stringify({ formation: { web: { size: 'huge' } } })),
      /formation\.web\.size: unknown size/,
    );
    assert.match(
      refused(JSON.stringify({ env: { 'BAD-NAME': 'x' } })),
      /^app\.json: env\.BAD-NAME: invalid config var name/,
    );
    assert.match(refused(JSON.stringify({ env: { T: { generator: 'template' } } })), /env\.T\.template: required/);
    assert.match(refused(JSON.stringify({ scripts: { postdeploy: ' ' } })), /scripts\.postdeploy: must not be empty/);
    assert.match(refused('{"env": '), /^app\.json: not valid JSON/);
  });
});

describe('resolveManifestEnv', () => {
  const manifest = parseAppManifest('app.json', JSON.stringify(full));
  const target = { app: 'blog-1', url: 'http://blog-1.localhost:8080', given: { ADMIN_EMAIL: 'a@example.com' } };

  test('given values, defaults, and generated secret, url and template', () => {
    const env = resolveManifestEnv(manifest, target);
    assert.equal(env.GREETING, 'hello');
    assert.equal(env.ADMIN_EMAIL, 'a@example.com');
    assert.match(env.SECRET_KEY ?? '', /^[0-9a-f]{64}$/);
    assert.equal(env.SELF, 'http://blog-1.localhost:8080');
    assert.equal(env.CALLBACK, 'http://blog-1.localhost:8080/auth?app=blog-1');
    assert.equal('OPTIONAL' in env, false);
  });

  test('each new app gets its own secret; a given value wins over the generator', () => {
    const a = resolveManifestEnv(manifest, target).SECRET_KEY;
    const b = resolveManifestEnv(manifest, target).SECRET_KEY;
    assert.notEqual(a, b);
    const given = resolveManifestEnv(manifest, { ...target, given: { ...target.given, SECRET_KEY: 'mine' } });
    assert.equal(given.SECRET_KEY, 'mine');
  });

  test('a required var without a value is refused with its name', () => {
    assert.throws(
      () => resolveManifestEnv(manifest, { ...target, given: { ADMIN_EMAIL: '' } }),
      (err) => err instanceof SlipwayError && err.message === 'ADMIN_EMAIL is required (app.json: env.ADMIN_EMAIL)',
    );
  });
});
