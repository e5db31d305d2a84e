// An app's add-ons, backups and volumes on its dashboard page in Chromium,
// against real PostgreSQL and Redis: creating one (named or not) sets its
// config var, a backup is captured and listed, destroying one needs the app's
// name typed again (a wrong one destroys nothing), the app's volumes are
// listed, errors show their reason (no stack trace), and a form post without
// the CSRF token is refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, submitToken, withoutChromium } from '../helpers/chromium.ts';
import { type Slipway, startSlipway } from '../helpers/slipway.ts';

const APP = 'shop';

describe("an app's add-ons on its page (browser)", { skip: withoutChromium, timeout: 240_000 }, () => {
  let slipway: Slipway;
  let browser: Browser;
  let page: Page;
  const text = async (selector: string) => (await page.textContent(selector)) ?? '';
  const addonNames = async () =>
    ((await slipway.api('GET', `/api/apps/${APP}/addons`)).json as { name: string }[]).map((a) => a.name);
  const env = async () => (await slipway.api('GET', `/api/apps/${APP}/env`)).json as Record<string, string>;
  const appPage = new RegExp(`/apps/${APP}(#backups)?$`);
  const assertShownError = async (reason: RegExp) => {
    assert.match(await text('.error'), reason);
    assert.doesNotMatch(await text('main'), /internal error|\bat .+\.ts:\d+/i, 'no stack trace');
    await page.goto(`${slipway.apiUrl}/apps/${APP}`);
  };
  const destroy = async (name: string, confirm: string) => {
    const form = page.locator('#addons tr', { hasText: name }).locator('form.destroy-addon');
    await form.locator('input[name="confirm"]').fill(confirm);
    await form.locator('button').click();
  };

  before(async () => {
    slipway = await startSlipway();
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    const volume = await slipway.api('POST', `/api/apps/${APP}/volumes`, { path: '/app/uploads', size: '64m' });
    assert.equal(volume.status, 201, JSON.stringify(volume.json));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${slipway.apiUrl}/apps/${APP}`);
    await submitToken(page);
    await page.waitForURL(appPage);
  });
  after(async () => {
    await browser?.close();
    await slipway?.stop();
  });

  test("the page lists the app's volumes, and no add-ons or backups yet", async () => {
    assert.match(await text('#volumes'), /\/app\/uploads\s*64\.0 MiB/);
    assert.match(await text('#addons'), /No add-ons\./);
    assert.match(await text('#backups'), /No backups\./);
  });

  test('creating PostgreSQL, then Redis named cache, sets DATABASE_URL and CACHE_URL', async () => {
    await page.selectOption('#addon-provider', 'postgresql');
    await page.click('#addon-form button');
    await page.waitForURL(appPage);
    assert.match(await text('#addons'), /DATABASE\s*postgresql\s*DATABASE_URL/);

    await page.selectOption('#addon-provider', 'redis');
    await page.fill('#addon-as', 'cache');
    await page.click('#addon-form button');
    await page.waitForURL(appPage);
    assert.match(await text('#addons'), /CACHE\s*redis\s*CACHE_URL/);
    assert.deepEqual((await addonNames()).sort(), ['CACHE', 'DATABASE']);
    const vars = await env();
    assert.match(vars.DATABASE_URL ?? '', /^postgres(ql)?:\/\//);
    assert.match(vars.CACHE_URL ?? '', /^redis:\/\//);
  });

  test('a second add-on under a taken name, or a bad name, shows why and makes nothing', async () => {
    await page.selectOption('#addon-provider', 'postgresql');
    await page.click('#addon-form button');
    await assertShownError(/^shop already has an add-on named DATABASE \(DATABASE_URL\)$/);
    await page.fill('#addon-as', '9lives');
    await page.click('#addon-form button');
    await assertShownError(/^invalid add-on name "9lives": a letter, then letters, digits or _/);
    assert.deepEqual((await addonNames()).sort(), ['CACHE', 'DATABASE']);
  });

  test('a backup is captured and listed; a Redis add-on is no database to back up', async () => {
    await page.click('#backup-form button');
    await page.waitForURL(appPage);
    assert.match(await text('#backups'), /b1\s*DATABASE\s*captured\s*\d/);
    const backups = (await slipway.api('GET', `/api/apps/${APP}/backups`)).json as { id: string; bytes: number }[];
    assert.equal(backups.length, 1);
    assert.ok((backups[0]?.bytes ?? 0) > 0);

    await page.fill('#backup-addon', 'CACHE');
    await page.click('#backup-form button');
    await assertShownError(/^shop has no database named CACHE$/);
  });

  test('destroying needs the app name typed again: a wrong one destroys nothing', async () => {
    await destroy('CACHE', 'shop2');
    await assertShownError(/this destroys CACHE of shop and all its data: type shop in the confirmation field/);
    assert.deepEqual((await addonNames()).sort(), ['CACHE', 'DATABASE']);
    assert.ok((await env()).CACHE_URL);

    await destroy('CACHE', APP);
    await page.waitForURL(appPage);
    assert.doesNotMatch(await text('#addons'), /CACHE/);
    assert.deepEqual(await addonNames(), ['DATABASE']);
    assert.equal((await env()).CACHE_URL, undefined);
  });

  test('form posts without the CSRF token are refused', async () => {
    const forged = (path: string, form: Record<string, string>) =>
      page.request.post(`${slipway.apiUrl}/apps/${APP}${path}`, { form, maxRedirects: 0 });
    assert.equal((await forged('/addons/DATABASE/destroy', { confirm: APP })).status(), 403);
    assert.equal((await forged('/addons', { provider: 'redis', as: 'FORGED' })).status(), 403);
    assert.equal((await forged('/backups', {})).status(), 403);
    assert.deepEqual(await addonNames(), ['DATABASE']);
    assert.equal(((await slipway.api('GET', `/api/apps/${APP}/backups`)).json as unknown[]).length, 1);
  });
});
