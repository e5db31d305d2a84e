// The deploy button and the dashboard in a real browser (Debian's chromium
// driven by playwright-core): a source with app.json deploys through the
// button to a live app, a bad manifest is refused before any app exists,
// sessions and CSRF guard every page and form, the env editor reaches the
// app. Screenshots at 1280 and 390 px go to test-artifacts/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { create } from 'tar';
import { launchChromium, submitToken, withoutChromium } from '../helpers/chromium.ts';
import { type LocalServer, startRecorder } from '../helpers/local-http.ts';
import { fixtureCopy, ROOT, routerGet, type Slipway, startSlipway, TOKEN } from '../helpers/slipway.ts';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const WIDTHS = [1280, 390] as const;
const DEPLOY_TIMEOUT = 90_000;

async function tarballOf(fixture: string, files: Record<string, string> = {}): Promise<Buffer> {
  const dir = fixtureCopy(fixture, files);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-button-')), 'app.tar.gz');
  await create({ gzip: true, cwd: dir, portable: true, file }, fs.readdirSync(dir));
  return fs.readFileSync(file);
}

describe('deploy button and dashboard (browser)', { skip: withoutChromium }, () => {
  let slipway: Slipway;
  let files: LocalServer;
  let browser: Browser;
  let page: Page;
  const served = new Map<string, Buffer>();
  const appJson = async (app: string) => JSON.parse((await routerGet(slipway.routerPort, `${app}.localhost`)).body);

  const screenshot = async (name: string) => {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  const deployThroughButton = async (name: string, tarball = 'button-app.tar.gz'): Promise<string> => {
    await page.goto(`${slipway.apiUrl}/deploy?source=${encodeURIComponent(`${files.url}/${tarball}`)}`);
    await page.fill('#name', name);
    await page.fill('#env_ADMIN_EMAIL', `admin@${name}.test`);
    await page.click('#deploy');
    await page.waitForURL(new RegExp(`/apps/${name}/deployments/`));
    if (name === 'button-one') {
      // The hook seeds for 1.5 s: photograph the deployment while its hook is running.
      await page.locator('#log', { hasText: 'init: seeding' }).waitFor({ timeout: DEPLOY_TIMEOUT });
      assert.notEqual(await page.getAttribute('#status', 'data-final'), 'true', 'still deploying');
      // The status and steps follow the deployment while it runs, not only at its end.
      await page.locator('#status', { hasText: 'starting' }).waitFor({ timeout: 5000 });
      await page.locator('#facts', { hasText: 'hook: running' }).waitFor({ timeout: 5000 });
      await screenshot('deployment-live');
    }
    await page.waitForSelector('#status[data-final="true"]', { timeout: DEPLOY_TIMEOUT });
    return (await page.textContent('#status')) ?? '';
  };

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    slipway = await startSlipway({ env: { SLIPWAY_ALLOW_PRIVATE_FETCH: '1' } }); // the file server is on loopback
    served.set('/button-app.tar.gz', await tarballOf('button-app'));
    // Variants of the same app: a manifest with an unknown generator, and a hook that fails.
    const manifest = (json: object) => ({ 'app.json': JSON.stringify(json) });
    served.set(
      '/button-bad.tar.gz',
      await tarballOf('button-app', manifest({ name: 'Bad Button App', env: { SECRET: { generator: 'uuid' } } })),
    );
    served.set(
      '/button-bad-addon.tar.gz',
      await tarballOf('button-app', manifest({ name: 'Bad Addon', addons: ['mysql'] })),
    );
    served.set(
      '/button-hook-fails.tar.gz',
      await tarballOf(
        'button-app',
        manifest({
          name: 'Button Hook Fails',
          env: { ADMIN_EMAIL: { required: true } },
          scripts: { postdeploy: "echo 'init failed: no database' >&2; exit 3" },
        }),
      ),
    );
    files = await startRecorder((req) => {
      const body = served.get(req.url);
      return body ? { status: 200, body, type: 'application/gzip' } : { status: 404, body: 'not found' };
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await files?.close();
    await slipway?.stop();
  });

  test('without a session every page redirects to sign-in and every post is refused', async () => {
    for (const url of ['/apps', '/apps/anything', `/deploy?source=${files.url}/button-app.tar.gz`, '/']) {
      const res = await fetch(`${slipway.apiUrl}${url}`, { redirect: 'manual' });
      assert.equal(res.status, 303, url);
      assert.match(res.headers.get('location') ?? '', /^\/sign-in\?next=/, url);
    }
    for (const url of ['/deploy', '/apps/anything/env', '/apps/anything/scale', '/apps/anything/redeploy']) {
      const res = await fetch(`${slipway.apiUrl}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'key=A&value=1&csrf=x',
      });
      assert.equal(res.status, 401, url);
    }
    assert.equal(files.requests.length, 0, 'nothing was fetched for a visitor without a session');
  });

  test('a wrong token is refused; the right one signs in and returns to the page asked for', async () => {
    await page.goto(`${slipway.apiUrl}/apps`);
    assert.match(page.url(), /\/sign-in\?next=%2Fapps$/);
    await submitToken(page, 'wrong-token');
    assert.match((await page.textContent('.error')) ?? '', /Invalid API token/);
    await submitToken(page);
    await page.waitForURL(/\/apps$/);
    for (const next of ['//evil.example/', '/\\evil.example/', 'https://evil.example/']) {
      const res = await fetch(`${slipway.apiUrl}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: TOKEN, next }),
        redirect: 'manual',
      });
      assert.equal(res.headers.get('location'), '/apps', `sign-in never sends to another origin (${next})`);
    }
    const cookie = (await page.context().cookies()).find((c) => c.name === 'slipway_session');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', 'an HttpOnly SameSite=Strict session cookie');
  });

  test('after sign-in Chromium stays on this origin, however `next` is spelled', async () => {
    // The other origin is the router's port on loopback: if Chromium followed, it would land there.
    const other = `127.0.0.1:${slipway.routerPort}`;
    const tries = [
      `//${other}/`,
      `/\\${other}/`,
      `/\t/${other}/`,
      `/\n/${other}/`,
      `\t//${other}/`,
      `/%09/${other}/`,
      `/.//${other}/`,
      `/x/..//${other}/`,
      `http://${other}/`,
      `/\u3002/${other}/`,
      `//${other}%2F`,
    ];
    const origin = new URL(slipway.apiUrl).origin;
    for (const next of tries) {
      const visit = await browser.newPage();
      await visit.goto(`${slipway.apiUrl}/sign-in?next=${encodeURIComponent(next)}`);
      await Promise.all([visit.waitForNavigation(), submitToken(visit)]);
      assert.equal(new URL(visit.url()).origin, origin, `next=${JSON.stringify(next)} led to ${visit.url()}`);
      await visit.close();
    }
    // A path of this origin is kept, query included.
    const visit = await browser.newPage();
    await visit.goto(`${slipway.apiUrl}/sign-in?next=${encodeURIComponent('/apps?x=1')}`);
    await Promise.all([visit.waitForNavigation(), submitToken(visit)]);
    assert.equal(visit.url(), `${origin}/apps?x=1`);
    await visit.close();
  });

  test('a manifest with an unknown generator is refused with its JSON path, no app created', async () => {
    await page.goto(`${slipway.apiUrl}/deploy?source=${encodeURIComponent(`${files.url}/button-bad.tar.gz`)}`);
    assert.equal(
      await page.textContent('.error'),
      'app.json: env.SECRET.generator: unknown generator "uuid" (use secret, url or template)',
    );
    assert.deepEqual((await slipway.api('GET', '/api/apps')).json, []);
  });

  test('a manifest with an unknown add-on is refused when the form is sent, no app created', async () => {
    await page.goto(`${slipway.apiUrl}/deploy?source=${encodeURIComponent(`${files.url}/button-bad-addon.tar.gz`)}`);
    await page.fill('#name', 'bad-addon');
    await page.click('#deploy');
    assert.equal(
      await page.textContent('.error'),
      'app.json: addons.0: unknown add-on "mysql": available are postgresql, redis',
    );
    assert.deepEqual((await slipway.api('GET', '/api/apps')).json, []);
  });

  test('the button deploys a source with app.json to a live app, with a generated secret and the hook output', async () => {
    await page.goto(`${slipway.apiUrl}/deploy?source=${encodeURIComponent(`${files.url}/button-app.tar.gz`)}`);
    assert.equal(await page.textContent('#description'), 'Slipway test fixture: deployed through the deploy button');
    assert.equal(await page.inputValue('#name'), 'button-app');
    assert.equal(await page.getAttribute('#env_SECRET_KEY', 'placeholder'), 'generated (secret)');
    assert.equal(await page.inputValue('#env_GREETING'), 'hello');
    assert.equal(await page.getAttribute('#env_ADMIN_EMAIL', 'required'), '');
    assert.equal(await page.textContent('#addons'), 'Made with the app, before its first deployment: postgresql');
    assert.match(
      (await page.textContent('#badge-markdown')) ?? '',
      /\[!\[Deploy on Slipway\]\(.*\/button\.svg\)\]\(.*\/deploy\?source=/,
    );
    await screenshot('deploy-button');

    // A required var left empty: the form comes back with the reason, nothing created.
    await page.fill('#name', 'button-one');
    await page.locator('#env_ADMIN_EMAIL').evaluate((el) => el.removeAttribute('required'));
    await page.click('#deploy');
    assert.match((await page.textContent('.error')) ?? '', /ADMIN_EMAIL is required \(app\.json: env\.ADMIN_EMAIL\)/);
    assert.equal((await slipway.api('GET', '/api/apps/button-one')).status, 404);

    assert.equal(await deployThroughButton('button-one'), 'success');
    const log = (await page.textContent('#log')) ?? '';
    assert.match(log, /init: seeding 2 rows for admin@button-one\.test/, 'the hook output is on the page');
    assert.match(
      log,
      /init: posts table created in DATABASE_URL/,
      'the manifest’s database exists before the first hook',
    );
    const seeded = await slipway.cli([
      'run',
      '-a',
      'button-one',
      '--',
      'psql "$DATABASE_URL" -Atc "select count(*) from posts"',
    ]);
    assert.equal(seeded.stdout, '2', seeded.stderr);
    assert.match((await page.textContent('.hook')) ?? '', /Running postdeploy hook/, 'the hook section is highlighted');
    assert.match((await page.textContent('.steps')) ?? '', /hook: \d+\.\d s/, 'step durations');
    assert.match(
      (await page.textContent('#facts')) ?? '',
      /Hook \(app\.json scripts\.postdeploy\): node init\.js · exit code 0/,
    );
    assert.equal(await deployThroughButton('button-two'), 'success');

    const one = await appJson('button-one');
    const two = await appJson('button-two');
    assert.match(one.secret, /^[0-9a-f]{64}$/);
    assert.match(two.secret, /^[0-9a-f]{64}$/);
    assert.notEqual(one.secret, two.secret);
    assert.deepEqual([one.admin, one.greeting], ['admin@button-one.test', 'hello']);
    const info = (await slipway.api('GET', '/api/apps/button-one')).json;
    assert.equal(info.size, 'S', 'the manifest formation size is applied');
  });

  test('a failing hook is shown as hook-error with its output', async () => {
    assert.equal(await deployThroughButton('button-fails', 'button-hook-fails.tar.gz'), 'hook-error');
    assert.match((await page.textContent('#log')) ?? '', /init failed: no database/);
    assert.match((await page.textContent('#facts')) ?? '', /exit code 3/);
    assert.equal(
      (await slipway.api('GET', '/api/apps/button-fails')).json.current_release,
      null,
      'no traffic switched',
    );
  });

  test('a form post without the CSRF token is refused', async () => {
    const res = await page.request.post(`${slipway.apiUrl}/apps/button-one/env`, {
      form: { key: 'GREETING', value: 'forged' },
      maxRedirects: 0,
    });
    assert.equal(res.status(), 403);
    assert.equal((await appJson('button-one')).greeting, 'hello');
  });

  test('the env editor sets a value that reaches the app after the restart', async () => {
    await page.goto(`${slipway.apiUrl}/apps`);
    assert.match((await page.textContent('#apps')) ?? '', /button-one\s*v1\s*success/);
    await screenshot('apps-list');
    await page.goto(`${slipway.apiUrl}/apps/button-one`);
    assert.equal(await page.isVisible('#env code.value'), false, 'values are masked until revealed');
    assert.match((await page.textContent('#addons')) ?? '', /DATABASE\s*postgresql\s*DATABASE_URL/);
    await screenshot('app-page');
    await page.fill('#env-key', 'GREETING');
    await page.fill('#env-value', 'bonjour');
    await page.click('#env-form button');
    await page.waitForURL(/\/apps\/button-one\/deployments\//);
    await page.waitForSelector('#status[data-final="true"]', { timeout: DEPLOY_TIMEOUT });
    await screenshot('deployment-restart');
    assert.equal(await page.textContent('#status'), 'success');
    assert.equal((await appJson('button-one')).greeting, 'bonjour');
  });
});
