// An app's dashboard page in Chromium tells the truth about config and
// releases: the config vars shown are the live release's, a change whose
// deployment failed is named above them with that deployment, a release that
// never went live is marked and its rollback button forces it; the settings
// form sets the boot timeout, and a bad value shows its reason.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openSignedIn, withoutChromium } from '../helpers/chromium.ts';
import { fixtureCopy, type Slipway, startSlipway } from '../helpers/slipway.ts';

const APP = 'dash';

describe("an app's page (browser)", { skip: withoutChromium }, () => {
  let slipway: Slipway;
  let browser: Browser;
  let page: Page;
  const text = async (selector: string) => (await page.textContent(selector)) ?? '';

  before(async () => {
    slipway = await startSlipway();
    const cli = (...args: string[]) => slipway.cli([...args, '-a', APP]);
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    assert.equal((await cli('env:set', 'JWT_SECRET=s1')).code, 0);
    assert.equal((await cli('deploy', fixtureCopy('needs-secret'))).code, 0);
    assert.equal((await cli('env:unset', 'JWT_SECRET')).code, 7, 'the change fails: the web needs it');
    ({ browser, page } = await openSignedIn(`${slipway.apiUrl}/apps/${APP}`));
  });
  after(async () => {
    await browser?.close();
    await slipway?.stop();
  });

  test('the live config is shown, and the failed change above it', async () => {
    const failed = (await slipway.api('GET', `/api/apps/${APP}/deployments`)).json[0];
    const notice = await text('#env-unapplied');
    assert.match(notice, /The values below are the live release's\. A change is not live:/);
    assert.match(
      notice,
      new RegExp(`${failed.id} ended crashed-error: -JWT_SECRET\\. The next deployment applies it\\.`),
    );
    assert.match(await text('#env table'), /JWT_SECRET/, 'the var the live release runs with is listed');
    await page.click(`#env-unapplied a[href$="/deployments/${failed.id}"]`);
    await page.waitForURL(new RegExp(`/deployments/${failed.id}$`));
    await page.goBack();
  });

  test('a release that never went live is marked, and its rollback button forces it', async () => {
    const releases = await text('#releases');
    assert.match(releases, /v1 \(current\)/);
    assert.match(releases, /v2 \(never live\)/);
    const v2 = page.locator('#releases tr', { hasText: 'v2 (never live)' });
    assert.equal(await v2.locator('button').textContent(), 'Roll back anyway');
    assert.equal(await v2.locator('input[name="force"]').getAttribute('value'), '1');
    assert.match(releases, /database migrations are not reversed/);
  });

  test('the settings form sets the boot timeout; a bad value shows why', async () => {
    await page.fill('#boot_timeout', '90s');
    await page.click('#settings-form button');
    await page.waitForURL(new RegExp(`/apps/${APP}$`));
    assert.equal(await page.inputValue('#boot_timeout'), '90s');
    assert.equal((await slipway.api('GET', `/api/apps/${APP}`)).json.boot_timeout_ms, 90_000);

    await page.fill('#boot_timeout', 'soon');
    await page.click('#settings-form button');
    assert.match(await text('main'), /boot timeout: /);
    assert.doesNotMatch(await text('main'), /internal error/i);
    assert.equal((await slipway.api('GET', `/api/apps/${APP}`)).json.boot_timeout_ms, 90_000, 'unchanged');

    await page.goto(`${slipway.apiUrl}/apps/${APP}`);
    await page.fill('#boot_timeout', '');
    await page.click('#settings-form button');
    await page.waitForURL(new RegExp(`/apps/${APP}$`));
    assert.equal((await slipway.api('GET', `/api/apps/${APP}`)).json.boot_timeout_ms, null, 'empty: the default');
  });
});
