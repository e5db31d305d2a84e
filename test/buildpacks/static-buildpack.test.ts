// The static buildpack through the buildpack API (detect, compile, release),
// then its bundled server answering on loopback: content types, caching,
// 404 page, static.json features, and hostile paths that must never leave
// the served folder.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuildDirs,
  parseRelease,
  prepareBuild,
  type RunningApp,
  runStep,
  startApp,
} from '../helpers/buildpack-api.ts';
import { rawRequest } from '../helpers/raw-http.ts';

describe('static buildpack: detect', () => {
  const cases: [string, Record<string, string | null>, boolean][] = [
    ['a static.json', { 'static.json': '{}' }, true],
    [
      'a static.json beside a package.json (the chained nodejs + static case)',
      { 'static.json': '{}', 'package.json': '{}' },
      true,
    ],
    ['an index.html and no package.json', { 'index.html': '<h1>hi</h1>' }, true],
    ['a public/ folder and no package.json', { 'public/a.txt': 'a' }, true],
    ['a public/ folder beside a package.json', { 'public/a.txt': 'a', 'package.json': '{}' }, false],
    ['a public/ folder beside a Procfile (the app runs itself)', { 'public/a.txt': 'a', Procfile: 'web: ./x' }, false],
    ['nothing static', { 'main.go': 'package main' }, false],
  ];
  for (const [name, files, detected] of cases) {
    test(`${detected ? 'detects' : 'does not detect'} ${name}`, async () => {
      const dirs = await prepareBuild('static-site');
      try {
        await fs.rm(dirs.buildDir, { recursive: true });
        for (const [file, content] of Object.entries(files)) {
          await fs.mkdir(path.dirname(path.join(dirs.buildDir, file)), { recursive: true });
          if (content !== null) await fs.writeFile(path.join(dirs.buildDir, file), content);
        }
        const result = await runStep('static', 'detect', dirs);
        assert.equal(result.code === 0, detected, result.output);
        if (detected) assert.equal(result.stdout, 'Static');
      } finally {
        await dirs.remove();
      }
    });
  }
});

describe('static buildpack: compile refuses a broken static.json with a clear message', () => {
  const cases: [string, string, RegExp][] = [
    ['invalid JSON', '{"root": ', /static\.json is not valid JSON/],
    [
      'a root that does not exist',
      '{"root": "dist/"}',
      /root "dist\/" does not exist after the build.*nodejs buildpack before/,
    ],
    ['a root outside the app', '{"root": "../"}', /root "\.\.\/" is outside the app/],
    ['a header with a newline', '{"headers": {"/**": {"X-A": "a\\r\\nSet-Cookie: x=1"}}}', /not a valid header/],
    ['a route not starting with /', '{"routes": {"**": "index.html"}}', /must start with \//],
    [
      'a redirect with a bad status',
      '{"redirects": {"/a": {"url": "/b", "status": 200}}}',
      /status of 301, 302, 307 or 308/,
    ],
  ];
  for (const [name, json, message] of cases) {
    test(name, async () => {
      const dirs = await prepareBuild('static-site');
      try {
        await fs.writeFile(path.join(dirs.buildDir, 'static.json'), json);
        const result = await runStep('static', 'compile', dirs);
        assert.equal(result.code, 1, result.output);
        assert.match(result.output, message);
        assert.doesNotMatch(result.output, /at .*\.mjs:\d+/, 'no stack trace');
      } finally {
        await dirs.remove();
      }
    });
  }
});

describe('static buildpack: a site served by the bundled server', () => {
  let dirs: BuildDirs;
  let app: RunningApp;
  let compileOutput: string;

  before(async () => {
    dirs = await prepareBuild('static-site');
    // A symbolic link inside the served folder that leads out of it.
    await fs.symlink('../secret.txt', path.join(dirs.buildDir, 'public', 'link-out.txt'));
    await fs.symlink('/etc', path.join(dirs.buildDir, 'public', 'etc'));
    const detect = await runStep('static', 'detect', dirs);
    assert.equal(detect.code, 0, detect.output);
    const compile = await runStep('static', 'compile', dirs);
    assert.equal(compile.code, 0, compile.output);
    compileOutput = compile.output;
    const release = await runStep('static', 'release', dirs);
    assert.equal(release.code, 0, release.output);
    const { processes } = parseRelease(release.stdout);
    assert.equal(processes.web, 'node .static/server.mjs');
    app = await startApp(dirs.buildDir, processes.web as string);
  });

  after(async () => {
    await app?.stop();
    await dirs?.remove();
  });

  test('compile says what it serves and puts the server in the slug', async () => {
    assert.match(compileOutput, /^-----> Preparing the static site$/m);
    assert.match(compileOutput, /^ {7}Serving public\/$/m);
    await fs.access(path.join(dirs.buildDir, '.static', 'server.mjs'));
  });

  test('files come with their content types, HTML is never cached, hashed assets are cached for a year', async () => {
    const expectations: [string, string, string][] = [
      ['/', 'text/html; charset=utf-8', 'no-cache'],
      ['/css/site.css', 'text/css; charset=utf-8', 'public, max-age=0, must-revalidate'],
      ['/assets/app-3f2a1b9c.js', 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/logo.svg', 'image/svg+xml', 'public, max-age=0, must-revalidate'],
      ['/data.json', 'application/json; charset=utf-8', 'public, max-age=0, must-revalidate'],
    ];
    for (const [url, type, cache] of expectations) {
      const res = await fetch(app.url + url);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('content-type'), type, url);
      assert.equal(res.headers.get('cache-control'), cache, url);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.match(await (await fetch(app.url)).text(), /Home of the static site/);
  });

  test('an unchanged file answers 304 to its ETag', async () => {
    const first = await fetch(`${app.url}/css/site.css`);
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${app.url}/css/site.css`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  });

  test("a missing page answers 404 with the site's own 404.html, uncached", async () => {
    const res = await fetch(`${app.url}/no/such/page`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(await res.text(), /custom 404/);
  });

  test('static.json: clean URLs, directory index, redirects, custom headers', async () => {
    assert.match(await (await fetch(`${app.url}/about`)).text(), /About this site/);
    const dir = await fetch(`${app.url}/docs`, { redirect: 'manual' });
    assert.equal(dir.status, 301);
    assert.equal(dir.headers.get('location'), '/docs/');
    assert.match(await (await fetch(`${app.url}/docs/`)).text(), /Docs index/);
    const moved = await fetch(`${app.url}/old-page`, { redirect: 'manual' });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get('location'), '/about');
    const asset = await fetch(`${app.url}/assets/app-3f2a1b9c.js`);
    assert.equal(asset.headers.get('x-served-by'), 'static-buildpack');
    assert.equal((await fetch(`${app.url}/css/site.css`)).headers.get('x-served-by'), null);
  });

  test('only GET and HEAD', async () => {
    const res = await fetch(`${app.url}/`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${app.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('hostile paths never reach a file outside the served folder, nor a dot-file', async () => {
    const hostile = [
      '/../secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/css/../../secret.txt',
      '/css/%2e%2e/%2e%2e/secret.txt',
      '/..\\secret.txt',
      '/%5c..%5csecret.txt',
      '/link-out.txt',
      '/etc/passwd',
      '/%00/../secret.txt',
      '/index.html%00.js',
      '/.env',
      '/%2eenv',
      '/css/../.env',
      '/.static/config.json',
      '/.static/server.mjs',
      '/%E0%A4%A',
      '//etc/passwd',
      '/....//secret.txt',
    ];
    for (const target of hostile) {
      const res = await rawRequest({ port: app.port, head: `GET ${target} HTTP/1.1\r\nHost: site` });
      assert.ok([400, 404].includes(res.status), `${target} answered ${res.status}`);
      assert.doesNotMatch(res.body, /not for the web|do-not-serve|root:x:0|"root"|createServer/, target);
    }
    const wellKnown = await fetch(`${app.url}/.well-known/security.txt`);
    assert.equal(wellKnown.status, 200);
  });
});

describe('static buildpack: a single-page app route', () => {
  test('paths no file answers are served the route target; files still win', async () => {
    const dirs = await prepareBuild('static-site');
    let app: RunningApp | undefined;
    try {
      await fs.writeFile(
        path.join(dirs.buildDir, 'static.json'),
        JSON.stringify({ root: 'public', routes: { '/app/**': 'index.html' } }),
      );
      assert.equal((await runStep('static', 'compile', dirs)).code, 0);
      app = await startApp(dirs.buildDir, 'node .static/server.mjs');
      const routed = await fetch(`${app.url}/app/settings/profile`);
      assert.equal(routed.status, 200);
      assert.equal(routed.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(await routed.text(), /Home of the static site/);
      assert.equal((await fetch(`${app.url}/elsewhere`)).status, 404);
      assert.match(await (await fetch(`${app.url}/css/site.css`)).text(), /color/);
    } finally {
      await app?.stop();
      await dirs.remove();
    }
  });
});
