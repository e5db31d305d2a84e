// The deploy button as other platforms' READMEs write it, in Chromium, against
// a git server on loopback (git http-backend): Scalingo's
// `/deploy?source=<repo>#<branch>` (the branch in the fragment, which the
// browser never sends: the page moves it into the query, through sign-in too)
// and Heroku's `/deploy?template=<repo>[/tree/<branch>]`, GitHub-style repository
// URLs without `.git`. Every failure shows its reason on the page: a source that
// does not answer, a git URL that is no repository, a branch that does not
// exist, a page that is neither git nor an archive; never "internal error".

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, submitToken, withoutChromium } from '../helpers/chromium.ts';
import { bareCopy, commitAll, commitBranch } from '../helpers/git-fixture.ts';
import { deadPort, type LocalServer, startGitServer, startRecorder } from '../helpers/local-http.ts';
import { fixtureCopy, routerGet, type Slipway, startSlipway } from '../helpers/slipway.ts';

const DEPLOY_TIMEOUT = 90_000;
const OTHER_MANIFEST = {
  name: 'Other Branch App',
  description: 'the other branch',
  env: { ADMIN_EMAIL: { required: true }, GREETING: { value: 'from the other branch' } },
};

describe('deploy buttons as Scalingo and Heroku write them (browser)', { skip: withoutChromium }, () => {
  let slipway: Slipway;
  let git: LocalServer;
  let web: LocalServer;
  let browser: Browser;
  let page: Page;
  let mainSha = '';
  let otherSha = '';
  const gitRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-button-git-'));

  const deployPage = (query: string) => page.goto(`${slipway.apiUrl}/deploy?${query}`);
  const errorText = async () => (await page.textContent('.error')) ?? '';

  /** Fills the setup form the page shows and deploys; the deployment's final status. */
  const deployAs = async (name: string): Promise<string> => {
    await page.fill('#name', name);
    await page.fill('#env_ADMIN_EMAIL', `admin@${name}.test`);
    await page.click('#deploy');
    await page.waitForURL(new RegExp(`/apps/${name}/deployments/`));
    await page.waitForSelector('#status[data-final="true"]', { timeout: DEPLOY_TIMEOUT });
    return (await page.textContent('#status')) ?? '';
  };
  const latestDeployment = async (app: string) =>
    (await slipway.api('GET', `/api/apps/${app}/deployments`)).json[0] as { commit_sha: string; git_ref: string };
  const greeting = async (app: string) =>
    JSON.parse((await routerGet(slipway.routerPort, `${app}.localhost`)).body).greeting;

  before(async () => {
    const work = fixtureCopy('button-app');
    mainSha = await commitAll(work, 'main version');
    otherSha = await commitBranch(work, 'other', { 'app.json': JSON.stringify(OTHER_MANIFEST) });
    await bareCopy(work, gitRoot, 'acme/shop');
    git = await startGitServer(gitRoot);
    web = await startRecorder(() => ({ status: 200, body: '<!doctype html><p>a web page</p>', type: 'text/html' }));
    slipway = await startSlipway({ env: { SLIPWAY_ALLOW_PRIVATE_FETCH: '1' } }); // the git server is on loopback
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await git?.close();
    await web?.close();
    await slipway?.stop();
    fs.rmSync(gitRoot, { recursive: true, force: true });
  });

  test("Scalingo's form: ?source=<repo>#<branch>, clicked while signed out, deploys that branch", async () => {
    // As on a README: the fragment is not encoded, so the browser keeps it to itself.
    await deployPage(`source=${git.url}/acme/shop#other`);
    assert.match(page.url(), /\/sign-in\?next=/);
    await submitToken(page);
    await page.waitForURL(/\/deploy\?/);
    assert.equal(await page.textContent('#description'), 'the other branch');
    assert.equal(await page.inputValue('#name'), 'other-branch-app');
    assert.equal(new URL(page.url()).searchParams.get('source'), `${git.url}/acme/shop#other`);
    assert.match((await page.textContent('main')) ?? '', new RegExp(`Source: ${git.url}/acme/shop#other`));

    assert.equal(await deployAs('scalingo-form'), 'success');
    const deployment = await latestDeployment('scalingo-form');
    assert.equal(deployment.commit_sha, otherSha);
    assert.equal(deployment.git_ref, 'other');
    assert.equal(await greeting('scalingo-form'), 'from the other branch');
  });

  test("Heroku's form: ?template=<repo> deploys the default branch, /tree/<branch> another one", async () => {
    await deployPage(`template=${git.url}/acme/shop/tree/other`);
    assert.equal(await page.textContent('#description'), 'the other branch');

    await deployPage(`template=${encodeURIComponent(`${git.url}/acme/shop`)}`);
    assert.equal(await page.textContent('#description'), 'Slipway test fixture: deployed through the deploy button');
    assert.equal(await deployAs('heroku-form'), 'success');
    const deployment = await latestDeployment('heroku-form');
    assert.equal(deployment.commit_sha, mainSha);
    assert.equal(await greeting('heroku-form'), 'hello');
  });

  test('a source that does not answer, on the page and on the form, says so; nothing is created', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    for (const source of [`${dead}/acme/shop`, `${dead}/app.tar.gz`, `${dead}/acme/shop.git#main`]) {
      const response = await deployPage(`source=${encodeURIComponent(source)}`);
      assert.equal(response?.status(), 502, source);
      const shown = await errorText();
      assert.match(shown, new RegExp(`^could not fetch ${dead}/.*: .*(connection refused|Couldn't connect)`, 'i'));
      assert.doesNotMatch(shown, /internal error/);
      assert.equal(await page.inputValue('#source'), source, 'the source is on the form again, to correct');
    }

    // The setup form of a good source, sent once the source has gone away.
    await deployPage(`source=${encodeURIComponent(`${git.url}/acme/shop`)}`);
    await page.locator('input[name=source]').evaluate((el, url) => el.setAttribute('value', url), `${dead}/acme/shop`);
    await page.fill('#name', 'never-made');
    await page.fill('#env_ADMIN_EMAIL', 'a@b.test');
    await page.click('#deploy');
    assert.match(await errorText(), new RegExp(`^could not fetch ${dead}/acme/shop: connection refused`));
    assert.equal((await slipway.api('GET', '/api/apps/never-made')).status, 404);
  });

  test("a git source that is no repository, or has no such branch, shows git's reason", async () => {
    await deployPage(`source=${encodeURIComponent(`${git.url}/acme/nothing.git`)}`);
    assert.match(await errorText(), /repository '.*\/acme\/nothing\.git\/' not found/);

    await deployPage(`source=${encodeURIComponent(`${git.url}/acme/shop#no-such-branch`)}`);
    assert.match(await errorText(), /couldn't find remote ref no-such-branch/);

    // Neither git nor an archive: a web page.
    await deployPage(`template=${encodeURIComponent(`${web.url}/acme/shop`)}`);
    const shown = await errorText();
    assert.match(shown, /is not a git repository.*and not a \.tar\.gz archive/);
    assert.doesNotMatch(shown, /internal error/);
  });
});
