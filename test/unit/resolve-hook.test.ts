// Which postdeploy command runs (DESIGN §1, step 4) and the source the
// deployment log reports for it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ManifestFile, ManifestScripts } from '../../src/core/parse-manifest.ts';
import { resolveHook } from '../../src/core/resolve-hook.ts';

function manifest(
  postdeploy: string | null,
  firstDeploy: string | null = null,
  file: ManifestFile = 'app.json',
): ManifestScripts {
  return { file, postdeploy, firstDeploy };
}

describe('resolveHook', () => {
  test('no Procfile line and no manifest: no hook', () => {
    assert.equal(resolveHook({ procfilePostdeploy: null, manifest: null, firstSuccessfulDeploy: false }), null);
    assert.equal(resolveHook({ procfilePostdeploy: null, manifest: null, firstSuccessfulDeploy: true }), null);
  });

  test('a manifest without scripts: no hook', () => {
    assert.equal(
      resolveHook({ procfilePostdeploy: null, manifest: manifest(null), firstSuccessfulDeploy: false }),
      null,
    );
  });

  test('the Procfile `postdeploy:` line is used', () => {
    assert.deepEqual(resolveHook({ procfilePostdeploy: './migrate', manifest: null, firstSuccessfulDeploy: false }), {
      command: './migrate',
      source: 'Procfile',
    });
  });

  test('the Procfile line wins over the manifest postdeploy', () => {
    const plan = resolveHook({
      procfilePostdeploy: 'npm run migrate',
      manifest: manifest('rake db:migrate'),
      firstSuccessfulDeploy: false,
    });
    assert.deepEqual(plan, { command: 'npm run migrate', source: 'Procfile' });
  });

  for (const file of ['app.json', 'scalingo.json'] as const) {
    test(`${file} scripts.postdeploy is used when the Procfile has no hook, on every deployment`, () => {
      for (const firstSuccessfulDeploy of [true, false]) {
        const plan = resolveHook({
          procfilePostdeploy: null,
          manifest: manifest('rake db:migrate', null, file),
          firstSuccessfulDeploy,
        });
        assert.deepEqual(plan, { command: 'rake db:migrate', source: `${file} scripts.postdeploy` });
      }
    });
  }

  test('first-deploy replaces the hook on the first successful deployment', () => {
    const m = manifest('rake db:migrate', 'rake db:setup', 'scalingo.json');
    assert.deepEqual(resolveHook({ procfilePostdeploy: null, manifest: m, firstSuccessfulDeploy: true }), {
      command: 'rake db:setup',
      source: 'scalingo.json scripts.first-deploy',
    });
    assert.deepEqual(resolveHook({ procfilePostdeploy: './procfile-hook', manifest: m, firstSuccessfulDeploy: true }), {
      command: 'rake db:setup',
      source: 'scalingo.json scripts.first-deploy',
    });
  });

  test('first-deploy runs on the first deployment even when nothing else defines a hook', () => {
    assert.deepEqual(
      resolveHook({ procfilePostdeploy: null, manifest: manifest(null, './setup'), firstSuccessfulDeploy: true }),
      { command: './setup', source: 'app.json scripts.first-deploy' },
    );
  });

  test('after the first successful deployment first-deploy is ignored', () => {
    const m = manifest('rake db:migrate', 'rake db:setup');
    assert.deepEqual(resolveHook({ procfilePostdeploy: null, manifest: m, firstSuccessfulDeploy: false }), {
      command: 'rake db:migrate',
      source: 'app.json scripts.postdeploy',
    });
    assert.deepEqual(resolveHook({ procfilePostdeploy: './p', manifest: m, firstSuccessfulDeploy: false }), {
      command: './p',
      source: 'Procfile',
    });
    assert.equal(
      resolveHook({ procfilePostdeploy: null, manifest: manifest(null, './setup'), firstSuccessfulDeploy: false }),
      null,
    );
  });
});
