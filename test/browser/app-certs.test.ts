// An app's certificates on its dashboard page, in Chromium: each one's
// domain, issuer, expiry, status and last error (an ACME order that cannot
// reach its CA shows why, at once), and the certs:auto switch, a CSRF-checked form.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openSignedIn, withoutChromium } from '../helpers/chromium.ts';
import { deadPort } from '../helpers/local-http.ts';
import { type Slipway, startSlipway } from '../helpers/slipway.ts';
import { type Issued, issue, makeRootCa, removeCa, type TestCa } from '../helpers/test-certs.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'dash';
const HOST = `${APP}.localhost`;

describe("an app's certificates on its page (browser)", { skip: withoutChromium }, () => {
  let slipway: Slipway;
  let browser: Browser;
  let page: Page;
  let ca: TestCa;
  let own: Issued;
  const text = async (selector: string) => (await page.textContent(selector)) ?? '';
  const auto = async () => (await slipway.api('GET', `/api/apps/${APP}/certs`)).json.auto as boolean;

  before(async () => {
    ca = await makeRootCa();
    own = await issue(ca, { names: [HOST], notAfterDays: 60 });
    const chain = path.join(ca.dir, 'chain.pem');
    fs.writeFileSync(chain, own.cert + ca.cert);
    // An ACME CA nobody answers for (loopback): orders fail, and say why.
    slipway = await startSlipway({
      env: { SLIPWAY_ACME_DIRECTORY: `http://127.0.0.1:${await deadPort()}/directory` },
    });
    assert.equal((await slipway.cli(['apps:create', APP])).code, 0);
    const added = await slipway.cli(['certs:add', chain, own.keyFile, '-a', APP]);
    assert.equal(added.code, 0, added.stderr);
    ({ browser, page } = await openSignedIn(`${slipway.apiUrl}/apps/${APP}`));
  });
  after(async () => {
    await browser?.close();
    await slipway?.stop();
    if (ca) removeCa(ca);
  });

  test('an own certificate: domain, issuer, expiry, status', async () => {
    const row = page.locator('#certs tbody tr', { hasText: 'own' });
    const cells = await row.locator('td').allTextContents();
    const notAfter = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    assert.equal(cells[0], HOST);
    assert.equal(cells[1], 'own');
    assert.equal(cells[2], 'Slipway Test Root');
    assert.match(cells[3] ?? '', new RegExp(`^${notAfter}T`));
    assert.equal(cells[4], 'ok');
    assert.equal(cells[5], '');
    assert.equal(await text('#certs-auto'), 'off');
  });

  test('certs:auto on from the page: the order is listed, and its failure with the reason', async () => {
    await page.click('#certs-auto-form button');
    await page.waitForURL(new RegExp(`/apps/${APP}$`));
    assert.equal(await text('#certs-auto'), 'on');
    assert.equal(await auto(), true);
    const row = page.locator(`#certs tr[data-id="acme-${HOST}"]`);
    await waitFor(
      async () => {
        await page.reload();
        return (await row.locator('td').nth(4).textContent()) === 'failing';
      },
      'the ACME order reported failing',
      20_000,
      250,
    );
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], HOST);
    assert.equal(cells[1], 'acme');
    assert.match(cells[5] ?? '', /^cannot reach the ACME CA at http:\/\/127\.0\.0\.1:\d+\/directory: ECONNREFUSED$/);
    assert.equal(await page.locator('#certs tbody tr', { hasText: 'own' }).count(), 1, 'the own one is still listed');
  });

  test('certs:auto off from the page', async () => {
    assert.equal(await page.textContent('#certs-auto-form button'), 'Turn off');
    await page.click('#certs-auto-form button');
    await page.waitForURL(new RegExp(`/apps/${APP}$`));
    assert.equal(await text('#certs-auto'), 'off');
    assert.equal(await auto(), false);
  });

  test('without the CSRF token, or with a value other than on/off, nothing changes', async () => {
    const url = `${slipway.apiUrl}/apps/${APP}/certs/auto`;
    const forged = await page.request.post(url, { form: { auto: 'on' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /CSRF/);
    assert.equal(await auto(), false);

    await page.locator('#certs-auto-form input[name="auto"]').evaluate((input) => {
      (input as unknown as { value: string }).value = 'maybe';
    });
    await page.click('#certs-auto-form button');
    const main = await text('main');
    assert.match(main, /certs:auto is on or off/);
    assert.doesNotMatch(main, /internal error/i);
    assert.equal(await auto(), false);
  });
});
