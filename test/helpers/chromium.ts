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
