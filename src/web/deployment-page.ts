// A deployment's page: its steps and the log, followed live over SSE (the
// same stream as the API's, through a session-authenticated same-origin
// route) until it ends; the hook's section is highlighted.

import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/api-context.ts';
import { openSse } from '../api/sse.ts';
import { shortCommit } from '../core/commit-sha.ts';
import { SlipwayError } from '../core/errors.ts';
import { isFinal } from '../core/lifecycle.ts';
import type { Deployment } from '../core/types.ts';
import { type Html, html } from './html.ts';
import { sendPage } from './send-page.ts';

type Params = { Params: { app: string; id: string } };

// Follows the log, marking the hook's part (from "-----> Running postdeploy hook" to the next
// "----->" line). At each step header and at the end, re-reads the status, the steps and the
// hook facts from the page itself, so they follow the deployment too.
const LIVE_SCRIPT = `
(function(){
  var log=document.getElementById('log'),status=document.getElementById('status');
  if(!window.EventSource||!log||status.dataset.final==='true')return;
  log.textContent='';var hook=false,pending=null;
  var refresh=function(){
    return fetch(location.href).then(function(r){return r.text();}).then(function(t){
      var page=new DOMParser().parseFromString(t,'text/html');
      var facts=page.getElementById('facts'),now=page.getElementById('status');
      if(facts)document.getElementById('facts').innerHTML=facts.innerHTML;
      if(now&&status.dataset.final!=='true'){status.textContent=now.textContent;status.className=now.className;}
    });
  };
  var es=new EventSource(log.dataset.events);
  es.onmessage=function(e){
    if(/^----->/.test(e.data)){
      hook=/hook/i.test(e.data);
      clearTimeout(pending);pending=setTimeout(refresh,150);
    }
    var line=document.createElement('span');if(hook)line.className='hook';
    line.textContent=e.data+'\\n';log.appendChild(line);log.scrollTop=log.scrollHeight;
  };
  es.addEventListener('end',function(e){
    es.close();clearTimeout(pending);var d=JSON.parse(e.data);
    var done=function(){
      status.textContent=d.status;status.className='status status-'+d.status;
      status.dataset.final='true';document.getElementById('done').hidden=false;
    };
    refresh().then(done,done);
  });
})();`;

export function deploymentPage(web: FastifyInstance, ctx: ApiContext): void {
  const requireDeployment = async (app: string, id: string) => {
    await ctx.store.apps.require(app);
    const d = await ctx.store.deployments.get(id);
    if (!d || d.app !== app)
      throw new SlipwayError('deployment.not_found', `deployment ${id} not found for app ${app}`);
    return d;
  };

  web.get<Params>('/apps/:app/deployments/:id', async (request, reply) => {
    const d = await requireDeployment(request.params.app, request.params.id);
    const final = isFinal(d.status) && !ctx.logs.isOpen(d.id);
    const lines = ctx.logs.read(d.id);
    return sendPage(
      reply,
      request,
      `Deployment ${d.id}`,
      html`<h1><a href="/apps/${d.app}">${d.app}</a> · deployment <code>${d.id}</code></h1>
<section><p>Status: <span id="status" class="status status-${d.status}" data-final="${final}">${d.status}</span>
${d.error ? html` · <span class="error-text">${d.error.message}</span>` : ''}</p>
<div id="facts">${deploymentFacts(d)}</div>
<p id="done" ${final ? '' : 'hidden'}><a href="/apps/${d.app}">Back to ${d.app}</a> · <a href="${ctx.webUrl(d.app)}">Open the app</a></p></section>
<h2>Log</h2><pre class="log" id="log" data-events="/apps/${d.app}/deployments/${d.id}/events">${highlightHook(lines)}</pre>
<script>${{ __html: LIVE_SCRIPT }}</script>`,
    );
  });

  web.get<Params>('/apps/:app/deployments/:id/events', async (request, reply) => {
    const { id } = await requireDeployment(request.params.app, request.params.id);
    const sse = openSse(reply);
    let ended = false;
    const end = async () => {
      if (ended) return;
      ended = true;
      const final = await ctx.store.deployments.get(id);
      if (final) sse.send(JSON.stringify({ status: final.status, error: final.error }), 'end');
      sse.end();
    };
    const stop = ctx.logs.follow(
      id,
      (line) => sse.send(line),
      () => void end(),
    );
    sse.closed.then(stop);
    const now = await ctx.store.deployments.get(id);
    if (now && isFinal(now.status) && !ctx.logs.isOpen(id)) await end();
  });
}

/** Steps with durations, source and commit, hook command and exit code. */
export function deploymentFacts(d: Deployment): Html {
  const steps = d.steps.map(
    (s) => html`<li>${s.name}: ${s.finishedAt ? seconds(s.startedAt, s.finishedAt) : 'running'}</li>`,
  );
  return html`<p class="hint">${d.kind} from ${d.source}${d.gitRef ? html` · ref <code>${d.gitRef}</code>` : ''}${
    d.commitSha ? html` · commit <code>${shortCommit(d.commitSha, 12)}</code>` : ''
  }${d.author ? ` · by ${d.author}` : ''} · ${d.createdAt}</p>
${steps.length ? html`<ul class="steps">${steps}</ul>` : ''}
${d.hook ? html`<p class="hint">Hook (${d.hook.source}): <code>${d.hook.command}</code> · exit code ${d.hook.exitCode ?? 'none'}</p>` : ''}`;
}

function seconds(from: string, to: string): string {
  return `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)} s`;
}

function highlightHook(lines: readonly string[]): Html[] {
  let hook = false;
  return lines.map((line) => {
    if (line.startsWith('----->')) hook = /hook/i.test(line);
    return hook ? html`<span class="hook">${line}\n</span>` : html`${line}\n`;
  });
}
