// The app page's add-ons, backups and volumes (docs/dashboard.md): the
// sections, and the form posts behind them, which go through the API's
// operations (ctx.addons, ctx.backups). Destroying an add-on needs the app's
// name typed again, as the CLI's --confirm. Every post answers with a redirect.

import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/api-context.ts';
import { SlipwayError } from '../core/errors.ts';
import { formatBytes } from '../core/format-bytes.ts';
import type { Deployment } from '../core/types.ts';
import { type Html, html } from './html.ts';
import type { Form } from './send-page.ts';

type AppParams = { Params: { app: string } };

/** The add-ons, backups and volumes sections of an app's page. */
export async function addonSections(ctx: ApiContext, app: string, csrf: Html): Promise<Html> {
  const [addons, backups, volumes] = await Promise.all([
    ctx.addons.list(app),
    ctx.backups.list(app),
    ctx.pipeline.volumes(app),
  ]);
  const addonRows = addons.map(
    (a) => html`<tr><td><code>${a.name}</code></td><td>${a.provider}</td><td><code>${a.configVar}</code></td>
<td class="wide">${a.createdAt}</td><td><form class="inline destroy-addon" method="post" action="/apps/${app}/addons/${a.name}/destroy">${csrf}
<input name="confirm" type="text" aria-label="Type ${app} to destroy ${a.name}" placeholder="type ${app} to confirm" required>
<button class="secondary">Destroy</button></form></td></tr>`,
  );
  const backupRows = backups.map(
    (b) =>
      html`<tr><td><code>${b.id}</code></td><td>${b.addon}</td><td>${b.automatic ? 'automatic' : 'captured'}</td><td>${formatBytes(b.bytes)}</td><td class="wide">${b.createdAt}</td></tr>`,
  );
  const providers = ctx.addons.providers;
  return html`<h2>Add-ons</h2><section id="addons"><table><tbody>${
    addonRows.length ? addonRows : html`<tr><td>No add-ons.</td></tr>`
  }</tbody></table><p class="hint">Destroying an add-on deletes its data and its config var: type the app's name to confirm.</p>
<form method="post" action="/apps/${app}/addons" id="addon-form">${csrf}
<label for="addon-provider">Add-on</label><select id="addon-provider" name="provider">${providers.map(
    (p) => html`<option value="${p}">${p}</option>`,
  )}</select>
<label for="addon-as">Name (optional)</label><input id="addon-as" name="as" type="text" placeholder="DATABASE, REDIS…">
<p class="hint">Its URL becomes the config var <code>NAME_URL</code>; a running app restarts with it (zero downtime).</p>
<p><button>Create</button></p></form></section>
<h2>Backups</h2><section id="backups"><table><tbody>${
    backupRows.length ? backupRows : html`<tr><td>No backups.</td></tr>`
  }</tbody></table>
<form method="post" action="/apps/${app}/backups" id="backup-form">${csrf}
<label for="backup-addon">Database</label><input id="backup-addon" name="addon" type="text" placeholder="DATABASE">
<p class="hint">Empty: DATABASE, or the app's only database. Restoring is <code>slipway pg:backups:restore ID --confirm ${app}</code>.</p>
<p><button>Capture a backup</button></p></form></section>
<h2>Volumes</h2><section id="volumes"><table><tbody>${
    volumes.length
      ? volumes.map(
          (v) =>
            html`<tr><td><code>${v.path}</code></td><td>${formatBytes(v.sizeBytes)}</td><td class="wide">${v.createdAt}</td></tr>`,
        )
      : html`<tr><td>No volumes.</td></tr>`
  }</tbody></table><p class="hint">Added and removed with <code>slipway volumes:add</code> and <code>volumes:remove</code>.</p></section>`;
}

const optional = (value: string | undefined) => (value?.trim() ? value.trim() : null);

export function addonForms(web: FastifyInstance, ctx: ApiContext): void {
  const after = (app: string, deployment: Deployment | null) =>
    deployment ? `/apps/${app}/deployments/${deployment.id}` : `/apps/${app}`;

  web.post<AppParams>('/apps/:app/addons', async (request, reply) => {
    const form = request.body as Form;
    const { app } = request.params;
    const change = await ctx.addons.create(app, form.provider ?? '', optional(form.as), request.author);
    return reply.redirect(after(app, change.deployment), 303);
  });

  web.post<{ Params: { app: string; name: string } }>('/apps/:app/addons/:name/destroy', async (request, reply) => {
    const form = request.body as Form;
    const { app, name } = request.params;
    if ((form.confirm ?? '').trim() !== app)
      throw new SlipwayError(
        'request.invalid',
        `this destroys ${name} of ${app} and all its data: type ${app} in the confirmation field`,
      );
    const change = await ctx.addons.destroy(app, name, request.author);
    return reply.redirect(after(app, change.deployment), 303);
  });

  web.post<AppParams>('/apps/:app/backups', async (request, reply) => {
    const form = request.body as Form;
    await ctx.backups.capture(request.params.app, optional(form.addon));
    return reply.redirect(`/apps/${request.params.app}#backups`, 303);
  });
}
