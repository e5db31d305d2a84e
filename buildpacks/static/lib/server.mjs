// The static buildpack's web server, copied into the slug as .static/server.mjs
// and started as `web: node .static/server.mjs`. No dependencies. It serves the
// folder named in .static/config.json (written by bin/compile from static.json)
// on $PORT: content types by extension, a year of caching for content-hashed
// assets and revalidation for everything else (HTML never cached), ETags, the
// app's 404 page, clean URLs, SPA routes, redirects and custom headers. A
// request can only reach files below the root: dot-files, `..`, encoded
// slashes, NUL bytes and symbolic links leading out are all refused.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(fs.readFileSync(path.join(here, 'config.json'), 'utf8'));
const appDir = path.dirname(here);
const root = fs.realpathSync(path.resolve(appDir, config.root));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.rss': 'application/rss+xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.bmp': 'image/bmp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.eot': 'application/vnd.ms-fontobject',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.ogg': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
};

/** Content-hashed file names (Vite/Rollup `index-B7f3kQ9a.js`, webpack `main.3f2a1b9c.js`) never change content. */
const HASHED = /[.-](?:[0-9a-f]{8,}|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{8})\.[a-z0-9]+$/;

function cacheControl(file) {
  if (file.endsWith('.html') || file.endsWith('.htm')) return 'no-cache';
  if (HASHED.test(path.basename(file))) return 'public, max-age=31536000, immutable';
  return 'public, max-age=0, must-revalidate';
}

/** static.json patterns: `*` within one path segment, `**` across segments, else literal. */
function compilePattern(pattern) {
  const body = pattern
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

const routes = Object.entries(config.routes ?? {}).map(([pattern, target]) => [compilePattern(pattern), target]);
const headerRules = Object.entries(config.headers ?? {}).map(([pattern, values]) => [compilePattern(pattern), values]);
const redirects = config.redirects ?? {};

/**
 * The file under root for a URL path, or null. `urlPath` is already decoded;
 * every segment must be a plain name (no dot-files except .well-known, no `..`).
 */
function resolveInRoot(urlPath) {
  const segments = urlPath.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s.startsWith('.') && s !== '.well-known') return null;
  }
  const candidate = path.join(root, ...segments);
  let real;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    return null;
  }
  if (real !== root && !real.startsWith(`${root}${path.sep}`)) return null;
  return real;
}

function statOf(file) {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

/** What a path serves: a file, a directory's index.html, a clean URL's .html, or a redirect to add the slash. */
function lookup(urlPath) {
  const file = resolveInRoot(urlPath);
  const stat = file === null ? null : statOf(file);
  if (stat?.isFile()) return { file, stat };
  if (stat?.isDirectory()) {
    if (!urlPath.endsWith('/')) return { slash: true };
    const index = resolveInRoot(`${urlPath}index.html`);
    const indexStat = index === null ? null : statOf(index);
    if (indexStat?.isFile()) return { file: index, stat: indexStat };
  }
  if (config.clean_urls && !urlPath.endsWith('/')) {
    const html = resolveInRoot(`${urlPath}.html`);
    const htmlStat = html === null ? null : statOf(html);
    if (htmlStat?.isFile()) return { file: html, stat: htmlStat };
  }
  return null;
}

function decodePath(rawUrl) {
  const pathname = rawUrl.split('?')[0] ?? '/';
  // An encoded slash or backslash would let one segment pretend to be two.
  if (/%2f|%5c/i.test(pathname)) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  if (decoded.split('/').some((s) => s === '..' || s === '.')) return null;
  return decoded;
}

function applyHeaders(res, urlPath) {
  for (const [pattern, values] of headerRules) {
    if (pattern.test(urlPath)) for (const [name, value] of Object.entries(values)) res.setHeader(name, String(value));
  }
}

function sendFile(req, res, found, status, urlPath) {
  const { file, stat } = found;
  const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  res.setHeader('Content-Type', TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', status === 200 ? cacheControl(file) : 'no-cache');
  res.setHeader('Last-Modified', stat.mtime.toUTCString());
  res.setHeader('ETag', etag);
  applyHeaders(res, urlPath);
  if (status === 200 && req.headers['if-none-match'] === etag) {
    res.writeHead(304);
    res.end();
    return;
  }
  res.setHeader('Content-Length', stat.size);
  res.writeHead(status);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

const errorPage = config.error_page ? lookup(`/${config.error_page.replace(/^\/+/, '')}`) : lookup('/404.html');

function notFound(req, res) {
  if (errorPage?.file) {
    sendFile(req, res, errorPage, 404, '/404');
    return;
  }
  const body = '<!doctype html><title>Not found</title><h1>404 Not Found</h1><p>There is no page here.</p>\n';
  res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function plain(res, status, text, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...headers });
  res.end(`${text}\n`);
}

function handle(req, res) {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    plain(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    return;
  }
  const urlPath = decodePath(req.url ?? '/');
  if (urlPath === null) {
    plain(res, 400, 'Bad Request');
    return;
  }
  const query = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?')) : '';
  if (config.https_only && req.headers['x-forwarded-proto'] === 'http' && req.headers.host) {
    res.writeHead(301, { Location: `https://${req.headers.host}${req.url}` });
    res.end();
    return;
  }
  const redirect = redirects[urlPath];
  if (redirect !== undefined) {
    res.writeHead(redirect.status ?? 301, { Location: redirect.url });
    res.end();
    return;
  }
  const found = lookup(urlPath);
  if (found?.slash) {
    res.writeHead(301, { Location: `${encodeURI(urlPath)}/${query}` });
    res.end();
    return;
  }
  if (found !== null) {
    sendFile(req, res, found, 200, urlPath);
    return;
  }
  // Routes apply to paths no file answers (a single-page app's client-side routes).
  for (const [pattern, target] of routes) {
    if (!pattern.test(urlPath)) continue;
    const routed = lookup(`/${target.replace(/^\/+/, '')}`);
    if (routed?.file) {
      sendFile(req, res, routed, 200, urlPath);
      return;
    }
  }
  notFound(req, res);
}

const server = http.createServer(handle);
const port = Number(process.env.PORT ?? 5000);
server.listen(port, () => {
  process.stdout.write(`static: serving ${path.relative(appDir, root) || '.'}/ on port ${port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
});
