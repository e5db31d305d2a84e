// What `slipway deploy DIR` ships, proved from inside the live release with
// `slipway run`: in a git work tree, what git tracks plus untracked files that
// are not ignored (never `.gitignore`d or `.git/info/exclude`d ones), and a
// dirty tree is recorded as `<sha>-dirty`; outside git, `.slugignore` is
// honoured and reported. Top-level names starting with `@` pack like any
// other, and `deploy --create` never leaves an app behind when the upload fails.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commitAll, runGit } from '../helpers/git-fixture.ts';
import { baseEnv, fixtureCopy, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';

describe('deploy DIR: what is packed', () => {
  let slipway: Slipway;

  before(async () => {
    // Small enough for the hostile upload below, large enough for every fixture app.
    slipway = await startSlipway({ env: { SLIPWAY_MAX_UPLOAD: '256kb' } });
  });
  after(async () => {
    await slipway?.stop();
  });

  const run = (app: string, command: string) => slipway.cli(['run', '-a', app, '--no-tty', '--', command]);
  const appNames = async () => {
    const listed = await slipway.cli(['apps', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    return JSON.parse(listed.stdout).map((a: { name: string }) => a.name);
  };

  describe('a git work tree', () => {
    const APP = 'packed-git';
    let dir = '';
    let sha = '';

    before(async () => {
      dir = fixtureCopy('run-files', {
        '.gitignore': '.env\n*.log\n',
        '@types/x.d.ts': 'declare const x: number;\n',
        '@scripts/run.sh': '#!/bin/sh\necho "ran from @scripts"\n',
        'gone.txt': 'committed, then deleted in the work tree\n',
      });
      sha = await commitAll(dir, 'packing fixture');
      // Not committed: ignored by .gitignore, by .git/info/exclude, and one that nothing ignores.
      fs.writeFileSync(path.join(dir, '.env'), 'SECRET=hunter2\n');
      fs.writeFileSync(path.join(dir, 'debug.log'), 'noise\n');
      fs.appendFileSync(path.join(dir, '.git', 'info', 'exclude'), 'local-notes.txt\n');
      fs.writeFileSync(path.join(dir, 'local-notes.txt'), 'mine only\n');
      assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    });

    test('a clean tree ships what git tracks, records HEAD, and ignored files stay out', async () => {
      // As a user runs it: the bin/slipway process.
      const deployed = await slipway.cli(['deploy', dir, '-a', APP], { spawn: true });
      assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
      assert.match(deployed.stdout, /Packing .+ as git sees it: 6 files \(main at [0-9a-f]{7}\)/);

      const listed = await run(APP, 'ls -A');
      assert.equal(listed.code, 0, listed.stderr);
      const names = listed.stdout.split('\n');
      for (const shipped of ['@types', '@scripts', '.gitignore', 'Procfile', 'server.js', 'gone.txt']) {
        assert.ok(names.includes(shipped), `${shipped} shipped: ${names}`);
      }
      for (const kept of ['.env', 'debug.log', 'local-notes.txt', '.git']) {
        assert.ok(!names.includes(kept), `${kept} not shipped: ${names}`);
      }
      const secret = await run(APP, 'cat .env');
      assert.notEqual(secret.code, 0);
      assert.doesNotMatch(secret.stdout, /hunter2/);
      const script = await run(APP, 'sh @scripts/run.sh && cat @types/x.d.ts');
      assert.equal(script.code, 0, script.stderr);
      assert.equal(script.stdout, 'ran from @scripts\ndeclare const x: number;');

      const { json: deployments } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
      assert.equal(deployments[0].commit_sha, sha, 'ignored files do not make the tree dirty');
      assert.equal(deployments[0].git_ref, 'main');
    });

    test('a dirty tree ships the work tree as it is and records <sha>-dirty', async () => {
      fs.writeFileSync(path.join(dir, 'untracked.txt'), 'not committed yet\n');
      fs.rmSync(path.join(dir, 'gone.txt')); // tracked, deleted in the work tree: must not break packing
      fs.writeFileSync(path.join(dir, '@types', 'x.d.ts'), 'declare const x: string;\n');

      const deployed = await slipway.cli(['deploy', dir, '-a', APP]);
      assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
      assert.match(deployed.stdout, /uncommitted changes/);

      const shown = await run(APP, 'cat untracked.txt @types/x.d.ts; ls -A');
      assert.equal(shown.code, 0, shown.stderr);
      const lines = shown.stdout.split('\n');
      assert.deepEqual(lines.slice(0, 2), ['not committed yet', 'declare const x: string;']);
      assert.ok(!lines.includes('gone.txt'), `gone.txt is not shipped: ${lines}`);
      assert.ok(!lines.includes('.env'));

      const { json: deployments } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
      assert.equal(deployments[0].commit_sha, `${sha}-dirty`);
      const { json: releases } = await slipway.api('GET', `/api/apps/${APP}/releases`);
      assert.equal(releases[0].commit_sha, `${sha}-dirty`);
      assert.equal(releases[0].description, `Deploy ${sha.slice(0, 7)}-dirty`);
      const version = await run(APP, 'echo "$CONTAINER_VERSION"');
      assert.equal(version.stdout, `${sha}-dirty`);
      const listing = await slipway.cli(['releases', '-a', APP]);
      assert.match(listing.stdout, new RegExp(`${sha.slice(0, 7)}-dirty`));
    });

    test('the API takes a hex commit id with at most one -dirty mark, nothing else', async () => {
      for (const bad of [`${sha}-dirty-dirty`, 'not-hex-dirty', `${sha}-modified`, '-dirty']) {
        const res = await fetch(`${slipway.apiUrl}/api/apps/${APP}/deployments?commit_sha=${bad}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' },
          body: 'not read',
        });
        assert.equal(res.status, 400, bad);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'request.invalid');
      }
    });

    test('a directory inside the work tree ships what git has there', async () => {
      const sub = path.join(dir, 'svc');
      fs.mkdirSync(sub);
      fs.cpSync(path.join(dir, 'Procfile'), path.join(sub, 'Procfile'));
      fs.cpSync(path.join(dir, 'server.js'), path.join(sub, 'server.js'));
      fs.writeFileSync(path.join(sub, '.env'), 'SECRET=again\n');
      fs.writeFileSync(path.join(sub, '.gitignore'), '');
      const deployed = await slipway.cli(['deploy', sub, '-a', APP]);
      assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
      const listed = await run(APP, 'ls -A');
      assert.deepEqual(listed.stdout.split('\n').sort(), ['.gitignore', 'Procfile', 'server.js']);
    });
  });

  test('outside git, .slugignore patterns are left out and reported, @ names included', async () => {
    const APP = 'packed-plain';
    const dir = fixtureCopy('run-files', {
      '.slugignore': '# Heroku style\n*.log\n/fixtures/\ndocs/*.md\n!docs/keep.md\n',
      '@types/x.d.ts': 'declare const x: number;\n',
      'a.log': 'x\n',
      'nested/b.log': 'x\n',
      'fixtures/big.json': '{}\n',
      'docs/guide.md': 'guide\n',
      'docs/keep.md': 'keep\n',
      '.git/config': 'not a repository: no HEAD\n',
    });
    const deployed = await slipway.cli(['deploy', dir, '-a', APP, '--create']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    assert.match(deployed.stdout, /Packing .+: \d+ files \(not a git work tree\)/);
    assert.match(deployed.stdout, /\.slugignore left out 4: a\.log, docs\/guide\.md, fixtures\/, nested\/b\.log/);

    const listed = await run(APP, 'find . -path ./node_modules -prune -o -print | sort');
    assert.equal(listed.code, 0, listed.stderr);
    const paths = listed.stdout.split('\n');
    for (const shipped of ['./@types/x.d.ts', './docs/keep.md', './.slugignore', './nested']) {
      assert.ok(paths.includes(shipped), `${shipped} shipped: ${paths}`);
    }
    for (const left of ['./a.log', './nested/b.log', './fixtures', './docs/guide.md', './.git']) {
      assert.ok(!paths.includes(left), `${left} not shipped: ${paths}`);
    }
    const { json: deployments } = await slipway.api('GET', `/api/apps/${APP}/deployments`);
    assert.equal(deployments[0].commit_sha, null);
  });

  describe('deploy --create never leaves an app behind', () => {
    test('when the upload is refused (over the server limit), the new app is removed again', async () => {
      const dir = fixtureCopy('run-files', { '@types/x.d.ts': 'x\n' });
      fs.writeFileSync(path.join(dir, 'noise.bin'), randomBytes(400 * 1024)); // does not compress
      const deployed = await slipway.cli(['deploy', dir, '-a', 'too-big', '--create']);
      assert.notEqual(deployed.code, 0);
      assert.match(deployed.stderr, /upload is larger than the limit of 256\.0 KiB/);
      assert.match(deployed.stdout, /Removed app too-big again/);
      assert.doesNotMatch(deployed.stderr, /ENOENT|stack|internal/);
      assert.ok(!(await appNames()).includes('too-big'), 'the app is gone');
    });

    test('when there is nothing to pack, no app is created', async () => {
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-empty-'));
      const deployed = await slipway.cli(['deploy', empty, '-a', 'nothing-here', '--create']);
      assert.notEqual(deployed.code, 0);
      assert.match(deployed.stderr, /nothing to deploy/);
      assert.ok(!(await appNames()).includes('nothing-here'));
    });

    test('nor when the server refuses to fetch a URL', async () => {
      const deployed = await slipway.cli(['deploy', 'http://127.0.0.1:9/app.tar.gz', '-a', 'from-url', '--create']);
      assert.notEqual(deployed.code, 0);
      assert.match(deployed.stderr, /private|not allowed|denied/i);
      assert.ok(!(await appNames()).includes('from-url'));
    });

    test('when the server cannot be reached, the CLI says so once the directory is packed', async () => {
      // Port 1 fails at once (fetch refuses it), before the packed file would even be opened.
      const deployed = await slipway.cli(['deploy', fixtureCopy('run-files'), '-a', 'x', '--create'], {
        env: { SLIPWAY_URL: 'http://127.0.0.1:1' },
      });
      assert.equal(deployed.code, 8, deployed.stderr);
      assert.match(deployed.stdout, /Packing .+: 2 files/);
      assert.match(deployed.stderr, /^error: cannot reach Slipway at /);
    });

    test('an app that already existed stays when its upload is refused', async () => {
      assert.equal((await slipway.cli(['apps:create', 'kept-app'])).code, 0);
      const dir = fixtureCopy('run-files');
      fs.writeFileSync(path.join(dir, 'noise.bin'), randomBytes(400 * 1024));
      const deployed = await slipway.cli(['deploy', dir, '-a', 'kept-app', '--create']);
      assert.notEqual(deployed.code, 0);
      assert.ok((await appNames()).includes('kept-app'));
    });
  });

  test('an untracked repository inside the tree ships by its own git: its tracked files, not its ignored ones', async () => {
    const APP = 'packed-nested';
    const dir = fixtureCopy('run-files', { '.gitignore': 'secret.txt\n' });
    await commitAll(dir, 'outer');
    // An untracked repository inside the tree (as a vendored checkout): its tracked files ship, its ignored ones not.
    const inner = path.join(dir, 'vendor', 'lib');
    fs.mkdirSync(inner, { recursive: true });
    fs.writeFileSync(path.join(inner, 'index.js'), 'module.exports = 1;\n');
    fs.writeFileSync(path.join(inner, '.gitignore'), 'build/\n');
    fs.mkdirSync(path.join(inner, 'build'));
    fs.writeFileSync(path.join(inner, 'build', 'out.js'), 'built\n');
    await commitAll(inner, 'inner');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'x\n');
    const env = baseEnv({ GIT_CONFIG_NOSYSTEM: '1' });
    assert.equal((await runGit(dir, ['status', '--porcelain'], env)).output, '?? vendor/');

    const deployed = await slipway.cli(['deploy', dir, '-a', APP, '--create']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    const listed = await run(APP, 'test -e secret.txt || echo no secret.txt; find vendor | sort');
    assert.deepEqual(listed.stdout.split('\n'), [
      'no secret.txt',
      'vendor',
      'vendor/lib',
      'vendor/lib/.gitignore',
      'vendor/lib/index.js',
    ]);
  });
});
