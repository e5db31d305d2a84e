// Dashboard pages: the apps list and an app's page (deployments, env editor
// with any change not live, processes with scale controls, releases with
// rollback and redeploy, add-ons, backups and volumes (addon-section.ts),
// settings), and the form posts behind them. Every
// post answers with a redirect.

import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/api-context.ts';
import { MAX_BOOT_TIMEOUT_MS, MAX_HOOK_TIMEOUT_MS, timeoutSetting } from '../api/validate.ts';
import type { CertView } from '../certs/cert-service.ts';
import { describeChanges } from '../core/config-changes.ts';
import { SlipwayError } from '../core/errors.ts';
import { type App, type ConfigState, releaseName } from '../core/types.ts';
import { addonForms, addonSections } from './addon-section.ts';
import { deploymentFacts, deploymentPage } from './deployment-page.ts';
import { csrfField, type Html, html } from './html.ts';
import { type Form, sendPage } from './send-page.ts';

type AppParams = { Params: { app: string } };

const status = (s: string | undefined) => (s ? html`<span class="status status-${s}">${s}</span>` : html`none`);

export function appPages(web: FastifyInstance, ctx: ApiContext): void {
  const { store, pipeline } = ctx;
  deploymentPage(web, ctx);
  addonForms(web, ctx);

  web.get('/apps', async (request, reply) => {
    const [apps, latest] = await Promise.all([store.apps.list(), store.deployments.latestOfEachApp()]);
    const rows = apps.map((a) => {
      const last = latest.get(a.name);
      return html`<tr><td><a href="/apps/${a.name}">${a.name}</a></td>
<td>${a.currentRelease === null ? 'none' : releaseName(a.currentRelease)}</td>
<td>${last ? html`<a href="/apps/${a.name}/deployments/${last.id}">${status(last.status)}</a>` : 'never deployed'}</td>
<td class="wide">${a.createdAt}</td></tr>`;
    });
    return sendPage(
      reply,
      request,
      'Apps',
      html`<h1>Apps</h1><p><a href="/deploy">Deploy an app from a URL</a></p>
<section><table id="apps"><thead><tr><th>App</th><th>Release</th><th>Last deployment</th><th class="wide">Created</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="4">No apps yet.</td></tr>`}</tbody></table></section>`,
    );
  });

  web.get<AppParams>('/apps/:app', async (request, reply) => {
    const app = await store.apps.require(request.params.app);
    const csrf = csrfField(request.session?.csrf ?? '');
    const [deployments, config, containers, formation, releases, addonsEtc, certs] = await Promise.all([
      store.deployments.list(app.name, 20),
      pipeline.config(app.name),
      store.containers.list(app.name),
      store.formation.get(app.name),
      store.releases.list(app.name),
      addonSections(ctx, app.name, csrf),
      ctx.certs.list(app.name),
    ]);
    const current = releases.find((r) => r.version === app.currentRelease);
    const types = Object.keys(current?.processes ?? {});
    return sendPage(
      reply,
      request,
      app.name,
      html`<h1>${app.name}</h1><p><a href="${ctx.webUrl(app.name)}">${ctx.webUrl(app.name)}</a> · release ${
        app.currentRelease === null ? 'none' : releaseName(app.currentRelease)
      } · size ${app.containerSize}</p>
<h2>Deployments</h2><section id="deployments">${
        deployments.length
          ? deployments.map(
              (d) =>
                html`<article><p><a href="/apps/${app.name}/deployments/${d.id}"><code>${d.id}</code></a> ${status(d.status)}${
                  d.releaseVersion === null ? '' : ` → ${releaseName(d.releaseVersion)}`
                }${d.error ? ` · ${d.error.message}` : ''}</p>${deploymentFacts(d)}</article>`,
            )
          : html`<p>No deployments yet.</p>`
      }</section>
<h2>Config vars</h2><section id="env">${unappliedNotice(config)}${envEditor(config.vars, csrf, app.name)}</section>
<h2>Processes</h2><section id="processes">${processes(types, formation, containers, csrf, app.name)}</section>
<h2>Releases</h2><section id="releases"><table><tbody>${releases
        .slice()
        .reverse()
        .slice(0, 20)
        .map(
          (r) => html`<tr><td>${releaseName(r.version)}${
            r.version === app.currentRelease ? ' (current)' : r.liveAt === null ? ' (never live)' : ''
          }</td><td>${r.description}</td>
<td class="wide">${r.createdAt}</td><td>${
            r.version === app.currentRelease
              ? html`<form class="inline" method="post" action="/apps/${app.name}/redeploy">${csrf}<button class="secondary">Redeploy</button></form>`
              : html`<form class="inline" method="post" action="/apps/${app.name}/releases/${r.version}/rollback">${csrf}${
                  r.liveAt === null
                    ? html`<input type="hidden" name="force" value="1"><button class="secondary">Roll back anyway</button>`
                    : html`<button class="secondary">Roll back</button>`
                }</form>`
          }</td></tr>`,
        )}</tbody></table><p class="hint">A rollback restores the release's code and config; database migrations are not reversed.</p></section>
${addonsEtc}
<h2>Certificates</h2><section id="certs">${certificates(certs, csrf, app.name)}</section>
<h2>Settings</h2><section id="settings">${settingsForm(app, csrf)}</section>`,
    );
  });

  web.post<AppParams>('/apps/:app/env', async (request, reply) => {
    const form = request.body as Form;
    const key = (form.key ?? '').trim();
    const changes = { [key]: form.unset ? null : (form.value ?? '') };
    const { deployment } = await pipeline.updateConfig(request.params.app, changes, request.session?.author ?? null);
    return reply.redirect(
      deployment ? `/apps/${request.params.app}/deployments/${deployment.id}` : `/apps/${request.params.app}`,
      303,
    );
  });

  web.post<AppParams>('/apps/:app/settings', async (request, reply) => {
    const form = request.body as Form;
    // An empty field is the server's default.
    const timeout = (name: string, value: string | undefined, maxMs: number) =>
      timeoutSetting(name, value?.trim() ? value.trim() : null, maxMs);
    await pipeline.updateApp(request.params.app, {
      bootTimeoutMs: timeout('boot timeout', form.boot_timeout, MAX_BOOT_TIMEOUT_MS),
      hookTimeoutMs: timeout('hook timeout', form.hook_timeout, MAX_HOOK_TIMEOUT_MS),
    });
    return reply.redirect(`/apps/${request.params.app}`, 303);
  });

  web.post<AppParams>('/apps/:app/scale', async (request, reply) => {
    const form = request.body as Form;
    const quantities = Object.fromEntries(
      Object.entries(form)
        .filter(([k]) => k.startsWith('qty_'))
        .map(([k, v]) => [k.slice(4), Number(v)]),
    );
    await pipeline.scale(request.params.app, quantities);
    return reply.redirect(`/apps/${request.params.app}`, 303);
  });

  web.post<AppParams & { Params: { version: string } }>(
    '/apps/:app/releases/:version/rollback',
    async (request, reply) => {
      const version = Number(request.params.version);
      if (!Number.isInteger(version)) throw new SlipwayError('request.invalid', 'release version must be a number');
      const form = request.body as Form;
      const d = await pipeline.rollback(
        request.params.app,
        version,
        { runHook: true, force: form.force === '1' },
        request.session?.author ?? null,
      );
      return reply.redirect(`/apps/${request.params.app}/deployments/${d.id}`, 303);
    },
  );

  web.post<AppParams>('/apps/:app/certs/auto', async (request, reply) => {
    const { auto } = request.body as Form;
    if (auto !== 'on' && auto !== 'off') throw new SlipwayError('request.invalid', 'certs:auto is on or off');
    await ctx.certs.setAuto(request.params.app, auto === 'on');
    return reply.redirect(`/apps/${request.params.app}`, 303);
  });

  web.post<AppParams>('/apps/:app/redeploy', async (request, reply) => {
    const d = await pipeline.redeploy(request.params.app, request.session?.author ?? null);
    return reply.redirect(`/apps/${request.params.app}/deployments/${d.id}`, 303);
  });
}

/** A stored change that is not live: which vars (names only), and why. */
function unappliedNotice(state: ConfigState): Html | string {
  const changed = describeChanges(state.vars, state.unapplied);
  if (!changed) return '';
  const d = state.deployment;
  const why =
    state.status === 'pending'
      ? html`being rolled out by <a href="/apps/${d?.app}/deployments/${d?.id}">${d?.id}</a>`
      : d
        ? html`not live: <a href="/apps/${d.app}/deployments/${d.id}">${d.id}</a> ended ${status(d.status)}`
        : 'not live';
  return html`<p class="notice" id="env-unapplied">The values below are the live release's. A change is ${why}: <code>${changed}</code>${
    state.status === 'failed' ? '. The next deployment applies it.' : ''
  }</p>`;
}

/** Each certificate (docs/https.md) with its state, and the certs:auto switch. */
function certificates(list: { auto: boolean; certificates: readonly CertView[] }, csrf: Html, app: string): Html {
  const rows = list.certificates.map((c) => {
    const domains = c.servedFor.length > 0 ? c.servedFor : (c.names ?? [c.id.replace(/^acme-/, '')]);
    const issuer = c.issuer === undefined ? '' : (/CN=([^,]+)/.exec(c.issuer)?.[1] ?? c.issuer);
    return html`<tr data-id="${c.id}"><td>${domains.join(', ')}</td><td>${c.source}</td><td>${issuer}</td>
<td>${c.notAfter ?? ''}</td><td>${status(c.status)}</td><td class="error">${c.lastError ?? ''}</td></tr>`;
  });
  const next = list.auto ? 'off' : 'on';
  return html`<table><thead><tr><th>Domain</th><th>Source</th><th>Issuer</th><th>Expires</th><th>Status</th><th>Last error</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="6">No certificates.</td></tr>`}</tbody></table>
<form method="post" action="/apps/${app}/certs/auto" id="certs-auto-form">${csrf}<input type="hidden" name="auto" value="${next}">
<p>ACME certificates (certs:auto): <strong id="certs-auto">${list.auto ? 'on' : 'off'}</strong>
<button class="secondary">Turn ${next}</button></p></form>
<p class="hint">With it on, Slipway obtains and renews a certificate for each of the app's hostnames in the background.</p>`;
}

/** Timeouts: empty for the server's default. */
function settingsForm(app: App, csrf: Html): Html {
  const seconds = (ms: number | null) => (ms === null ? '' : `${ms / 1000}s`);
  return html`<form method="post" action="/apps/${app.name}/settings" id="settings-form">${csrf}
<label for="boot_timeout">Boot timeout</label><input id="boot_timeout" name="boot_timeout" type="text" placeholder="server default" value="${seconds(app.bootTimeoutMs)}">
<label for="hook_timeout">Postdeploy hook timeout</label><input id="hook_timeout" name="hook_timeout" type="text" placeholder="server default" value="${seconds(app.hookTimeoutMs)}">
<p class="hint">A duration such as 90s or 5m; empty for the server's default.</p>
<p><button>Save</button></p></form>`;
}

/** Values are masked until revealed (a <details>, no script needed). */
function envEditor(config: Record<string, string>, csrf: Html, app: string): Html {
  const rows = Object.entries(config).map(
    ([
      k,
      v,
    ]) => html`<tr><td><code>${k}</code></td><td><details><summary>••••••</summary><code class="value">${v}</code></details></td>
<td><form class="inline" method="post" action="/apps/${app}/env">${csrf}<input type="hidden" name="key" value="${k}"><input type="hidden" name="unset" value="1"><button class="secondary">Unset</button></form></td></tr>`,
  );
  return html`<table><tbody>${rows.length ? rows : html`<tr><td>No config vars.</td></tr>`}</tbody></table>
<form method="post" action="/apps/${app}/env" id="env-form">${csrf}
<label for="env-key">Name</label><input id="env-key" name="key" type="text" required pattern="[A-Za-z_][A-Za-z0-9_]*">
<label for="env-value">Value</label><input id="env-value" name="value" type="text">
<p class="hint">Setting a var restarts the app with a new release (zero downtime).</p>
<p><button>Set</button></p></form>`;
}

function processes(
  types: string[],
  formation: Record<string, number>,
  containers: readonly { name: string; state: string; releaseVersion: number; restarts: number }[],
  csrf: Html,
  app: string,
): Html {
  if (types.length === 0) return html`<p>No release yet.</p>`;
  return html`<table><tbody>${containers.map(
    (c) =>
      html`<tr><td>${c.name}</td><td>${c.state}</td><td>${releaseName(c.releaseVersion)}</td><td class="wide">${c.restarts} restarts</td></tr>`,
  )}</tbody></table>
<form method="post" action="/apps/${app}/scale" id="scale-form">${csrf}${types.map(
    (t) =>
      html`<label for="qty_${t}">${t}</label><input id="qty_${t}" name="qty_${t}" type="number" min="0" max="100" value="${formation[t] ?? 1}">`,
  )}<p><button>Scale</button></p></form>`;
}
