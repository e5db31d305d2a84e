// The deploy button: GET /deploy?source=<tarball or git URL>[&ref=] (or
// Heroku's ?template=) reads the source's manifest and shows the setup form;
// POST /deploy creates the app, sets its env (generated values included) and
// formation, deploys the source and sends the browser to the live deployment
// log. A source that cannot be fetched or read shows its reason above the
// source form. GET /button.svg is the badge to put on a README.

import fs from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/api-context.ts';
import { httpStatusOf } from '../api/error-status.ts';
import { isSlipwayError, type SlipwayError } from '../core/errors.ts';
import type { Deployment } from '../core/types.ts';
import { type ButtonSource, deployFromButton, fetchWithManifest, planButtonApp } from '../intake/deploy-button.ts';
import { csrfField, errorBox, type Html, html } from './html.ts';
import { type Form, sendPage } from './send-page.ts';

/** What the setup form shows again with its reason: nothing was made. */
const FORM_ERRORS: ReadonlySet<string> = new Set([
  'app.already_exists',
  'app.invalid_name',
  'config.invalid_key',
  'config.invalid_value',
]);

/** `template` is Heroku's name for the source. */
type DeployQuery = { Querystring: { source?: string; template?: string; ref?: string } };

/**
 * Scalingo's button names the branch in the fragment (`?source=<repo>#<branch>`),
 * which the browser keeps to itself: moved into the source, the server sees it.
 */
const FRAGMENT_SCRIPT = `(function () {
  var url = new URL(location.href), query = url.searchParams, key = query.has('source') ? 'source' : 'template';
  var source = query.get(key);
  if (url.hash.length > 1 && source && source.indexOf('#') < 0 && !query.get('ref')) {
    query.set(key, source + url.hash);
    url.hash = '';
    location.replace(url.href);
  }
})();`;

const BADGE = `<svg xmlns="http://www.w3.org/2000/svg" width="150" height="32" viewBox="0 0 150 32" role="img" aria-label="Deploy on Slipway">
<rect width="150" height="32" rx="5" fill="#2d5bd2"/>
<path d="M12 20 l7-10 7 10 z" fill="#fff"/>
<text x="34" y="21" fill="#fff" font-family="system-ui,sans-serif" font-size="14" font-weight="600">Deploy on Slipway</text>
</svg>`;

export function deployButton(web: FastifyInstance, ctx: ApiContext): void {
  web.get('/button.svg', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(BADGE),
  );

  /** The source and its manifest, or null once the source form is sent with the reason. */
  const fetchOrExplain = async (request: FastifyRequest, reply: FastifyReply, form: Form) => {
    try {
      return await fetchWithManifest(ctx.intake, form.source ?? '', form.ref || null);
    } catch (err) {
      if (!isSlipwayError(err)) throw err;
      reply.code(httpStatusOf(err.code));
      await sendPage(reply, request, 'Deploy', sourceForm(request, form, err));
      return null;
    }
  };

  web.get<DeployQuery>('/deploy', async (request, reply) => {
    const { ref } = request.query;
    const source = request.query.source || request.query.template;
    if (!source) return sendPage(reply, request, 'Deploy', sourceForm(request));
    const form = { source, ref: ref ?? '' };
    const fetched = await fetchOrExplain(request, reply, form);
    if (!fetched) return reply;
    await fs.promises.rm(fetched.file, { force: true });
    return sendPage(reply, request, 'Deploy', setupForm(request, fetched, { ...form, name: defaultName(fetched) }));
  });

  web.post('/deploy', async (request, reply) => {
    const form = request.body as Form;
    const fetched = await fetchOrExplain(request, reply, form);
    if (!fetched) return reply;
    const given = Object.fromEntries(
      Object.keys(fetched.manifest?.env ?? {}).map((key) => [key, form[`env_${key}`] ?? '']),
    );
    let deployment: Deployment;
    try {
      const plan = planButtonApp(ctx.intake, fetched.manifest, { name: form.name ?? '', given });
      deployment = await deployFromButton(ctx.intake, plan, fetched, request.session?.author ?? null);
    } catch (err) {
      await fs.promises.rm(fetched.file, { force: true });
      // A name taken or a value refused (nothing was made): the form again, with the reason.
      if (!isSlipwayError(err) || !FORM_ERRORS.has(err.code)) throw err;
      reply.code(422);
      return sendPage(reply, request, 'Deploy', setupForm(request, fetched, form, err.message));
    }
    return reply.redirect(`/apps/${deployment.app}/deployments/${deployment.id}`, 303);
  });
}

function defaultName({ manifest }: ButtonSource): string {
  const base = (manifest?.name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return /^[a-z]/.test(base) ? base.slice(0, 30).replace(/-+$/, '') : '';
}

function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** The source form, filled with what was tried and why it failed when it did. */
function sourceForm(request: FastifyRequest, tried: Form = {}, failure?: SlipwayError): Html {
  return html`<h1>Deploy an app</h1>${failure ? errorBox(failure.message) : ''}<section><form method="get" action="/deploy">
<label for="source">Source (git repository or .tar.gz URL)</label><input id="source" name="source" type="text" value="${tried.source ?? ''}" required>
<p class="hint">A repository as <code>https://github.com/OWNER/REPO</code>, <code>…/REPO.git</code>, <code>…/REPO#BRANCH</code> or <code>…/REPO/tree/BRANCH</code>; or a <code>.tar.gz</code> archive.</p>
<label for="ref">Git ref (branch, tag or commit; optional)</label><input id="ref" name="ref" type="text" value="${tried.ref ?? ''}">
<p><button>Continue</button></p></form></section><script>${{ __html: FRAGMENT_SCRIPT }}</script>
<h2>Deploy button</h2><section><p>Put this on a README:</p>${snippet(request, 'https://example.com/your/app.tar.gz')}</section>`;
}

function snippet(request: FastifyRequest, source: string): Html {
  const base = baseUrl(request);
  const link = `${base}/deploy?source=${encodeURIComponent(source)}`;
  return html`<p><a href="${link}"><img src="${base}/button.svg" alt="Deploy on Slipway"></a></p>
<pre><code id="badge-markdown">[![Deploy on Slipway](${base}/button.svg)](${link})</code></pre>`;
}

function setupForm(request: FastifyRequest, { manifest }: ButtonSource, form: Form, error?: string): Html {
  const env = Object.entries(manifest?.env ?? {});
  const fields = env.map(([key, spec]) => {
    const generated = spec.generator && !spec.value ? `generated (${spec.generator})` : '';
    return html`<label for="env_${key}">${key}${spec.required && !spec.value && !spec.generator ? html` <span class="req" title="required">*</span>` : ''}</label>
${spec.description ? html`<p class="hint">${spec.description}</p>` : ''}
<input id="env_${key}" name="env_${key}" type="text" value="${form[`env_${key}`] ?? spec.value ?? ''}" placeholder="${generated}"${spec.required && !spec.value && !spec.generator ? html` required` : ''}>
${generated ? html`<p class="hint">Leave empty: ${generated}.</p>` : ''}`;
  });
  const addons = manifest?.addons.length
    ? html`<h2>Add-ons</h2><section><p id="addons">Made with the app, before its first deployment: ${manifest.addons
        .map((a) => (a.as === null ? a.plan : `${a.plan} as ${a.as}`))
        .join(', ')}</p></section>`
    : '';
  return html`<h1>Deploy ${manifest?.name ?? 'an app'}</h1>${error ? errorBox(error) : ''}
<section>${manifest?.logo ? html`<img class="logo" src="${manifest.logo}" alt="">` : ''}
${manifest?.description ? html`<p id="description">${manifest.description}</p>` : ''}
<p class="hint">Source: <code>${form.source}</code>${form.ref ? html` at <code>${form.ref}</code>` : ''}${manifest ? html` · manifest: <code>${manifest.file}</code>` : html` · no app.json`}</p>
${manifest?.buildpacks.length ? html`<p class="hint">Buildpacks (the build runs them): ${manifest.buildpacks.join(', ')}</p>` : ''}
</section>
<form method="post" action="/deploy">${csrfField(request.session?.csrf ?? '')}
<input type="hidden" name="source" value="${form.source}"><input type="hidden" name="ref" value="${form.ref ?? ''}">
<section><label for="name">App name</label><input id="name" name="name" type="text" value="${form.name ?? ''}" required pattern="[a-z][a-z0-9-]{1,28}[a-z0-9]">
<p class="hint">3 to 30 lowercase letters, digits and dashes.</p></section>
${env.length ? html`<h2>Config vars</h2><section>${fields}</section>` : ''}${addons}
<p><button id="deploy">Deploy app</button></p></form>
<h2>Deploy button</h2><section>${snippet(request, form.source ?? '')}</section><script>${{ __html: FRAGMENT_SCRIPT }}</script>`;
}
