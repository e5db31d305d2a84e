// Debian's chromium driven by playwright-core, for the browser tests: they
// are skipped, with the reason, where it is not installed.

import fs from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { TOKEN } from './slipway.ts';

const CHROMIUM = '/usr/bin/chromium';

/** A `skip` option for describe(): the reason when chromium is missing. */
export const withoutChromium: string | false = !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** Fills the sign-in form the page is on with `token` and sends it. */
export async function submitToken(page: Page, token = TOKEN): Promise<void> {
  await page.fill('#token', token);
  await page.click('main button');
}

/** A browser on `url` (a page behind the sign-in), signed in with the admin token. */
export async function openSignedIn(url: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  await submitToken(page);
  await page.waitForURL(new RegExp(`${new URL(url).pathname}$`));
  return { browser, page };
}
