// HTML for the dashboard and the deploy button: escaping and the page frame
// (one small stylesheet, readable from 390 px phones to desktops).

export type Html = { readonly __html: string };

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Tagged template: interpolations are escaped unless they are Html (or arrays of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return { __html: out };
}

function render(v: unknown): string {
  if (Array.isArray(v)) return v.map(render).join('');
  if (v && typeof v === 'object' && '__html' in v) return (v as Html).__html;
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(v);
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1c2330;background:#f5f6f8}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#1c2330;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}
header form{margin-left:auto}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.75rem 1rem;margin-bottom:1rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eef0f3;vertical-align:top}
label{display:block;font-weight:600;margin:.6rem 0 .2rem}
input[type=text],input[type=password],input[type=number],input:not([type]){width:100%;max-width:28rem;padding:.4rem;font:inherit;border:1px solid #b9c0ca;border-radius:4px}
input[type=number]{width:5rem}
select{font:inherit;padding:.35rem;border:1px solid #b9c0ca;border-radius:4px;background:#fff}
button{font:inherit;padding:.35rem .9rem;border-radius:4px;border:1px solid #2d5bd2;background:#2d5bd2;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#2d5bd2}
form.inline{display:inline}
.hint{color:#5b6472;font-size:.9rem;margin:.1rem 0}
.error{background:#fdecec;border:1px solid #e3a3a3;color:#8a1c1c;padding:.6rem .8rem;border-radius:4px}
.notice{background:#fff7e0;border:1px solid #e6c867;padding:.5rem .8rem;border-radius:4px}
.status{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.85rem;background:#e7eaef}
.status-success{background:#dff3e4;color:#1d6b34}
.status-hook-error,.status-build-error,.status-crashed,.status-boot-timeout,.status-aborted,.status-timeout-error{background:#fdecec;color:#8a1c1c}
.req{color:#b3261e}
pre.log{background:#10151d;color:#d9dee7;padding:.6rem;border-radius:4px;max-height:60vh;overflow:auto;white-space:pre-wrap;word-break:break-all;font-size:.82rem}
pre.log .hook{color:#ffd479}
img.logo{max-width:64px;max-height:64px;float:right}
pre{white-space:pre-wrap;word-break:break-all}
.steps{display:flex;flex-wrap:wrap;gap:.1rem 1rem;padding-left:0;list-style:none}
code{background:#eef0f3;padding:0 .2rem;border-radius:3px;word-break:break-all}
@media (max-width:600px){main{padding:.5rem}th,td{padding:.3rem}.wide{display:none}}
`;

export function page(title: string, body: Html, options: { csrf?: string } = {}): string {
  const signOut = options.csrf
    ? html`<form method="post" action="/sign-out"><input type="hidden" name="csrf" value="${options.csrf}"><button class="secondary">Sign out</button></form>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Slipway</title><style>${STYLE}</style></head>
<body><header><a href="/apps">Slipway</a>${render(signOut)}</header>
<main>${body.__html}</main></body></html>`;
}

export function errorBox(message: string): Html {
  return html`<p class="error" role="alert">${message}</p>`;
}

/** The CSRF field every form of a signed-in page carries. */
export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}
