// `node configure.mjs BUILD_DIR`: reads static.json (optional), checks it,
// settles the folder to serve, and writes BUILD_DIR/.static/config.json for
// the bundled server. Every mistake is a build error that says what to fix.

import fs from 'node:fs';
import path from 'node:path';

const buildDir = fs.realpathSync(process.argv[2]);
const INDENT = '       ';

function fail(message) {
  process.stderr.write(` !     ${message}\n`);
  process.exit(1);
}

function readStaticJson() {
  const file = path.join(buildDir, 'static.json');
  if (!fs.existsSync(file)) return {};
  let value;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`static.json is not valid JSON: ${err.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('static.json must hold a JSON object');
  return value;
}

const KNOWN = ['root', 'clean_urls', 'routes', 'headers', 'redirects', 'error_page', 'https_only'];

function isStringMap(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function check(settings) {
  for (const key of Object.keys(settings)) {
    if (!KNOWN.includes(key)) process.stdout.write(` !     static.json: "${key}" is not supported and is ignored\n`);
  }
  if (settings.root !== undefined && typeof settings.root !== 'string') fail('static.json: "root" must be a string');
  for (const flag of ['clean_urls', 'https_only']) {
    if (settings[flag] !== undefined && typeof settings[flag] !== 'boolean') {
      fail(`static.json: "${flag}" must be true or false`);
    }
  }
  if (settings.routes !== undefined) {
    if (!isStringMap(settings.routes))
      fail('static.json: "routes" must map paths to files, like {"/**": "index.html"}');
    for (const [pattern, target] of Object.entries(settings.routes)) {
      if (!pattern.startsWith('/') || typeof target !== 'string') {
        fail(`static.json: route ${JSON.stringify(pattern)} must start with / and name a file`);
      }
    }
  }
  if (settings.headers !== undefined) {
    if (!isStringMap(settings.headers)) fail('static.json: "headers" must map paths to header objects');
    for (const [pattern, values] of Object.entries(settings.headers)) {
      if (!pattern.startsWith('/') || !isStringMap(values)) {
        fail(`static.json: headers for ${JSON.stringify(pattern)} must start with / and be an object`);
      }
      for (const [name, value] of Object.entries(values)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(String(value))) {
          fail(`static.json: header ${JSON.stringify(name)} for ${pattern} is not a valid header`);
        }
      }
    }
  }
  if (settings.redirects !== undefined) {
    if (!isStringMap(settings.redirects))
      fail('static.json: "redirects" must map paths to {"url": ..., "status": 301}');
    for (const [from, to] of Object.entries(settings.redirects)) {
      const status = to?.status ?? 301;
      if (
        !from.startsWith('/') ||
        typeof to?.url !== 'string' ||
        /[\r\n\0]/.test(to.url) ||
        ![301, 302, 307, 308].includes(status)
      ) {
        fail(`static.json: redirect ${JSON.stringify(from)} needs a "url" and a status of 301, 302, 307 or 308`);
      }
    }
  }
  if (settings.error_page !== undefined && typeof settings.error_page !== 'string') {
    fail('static.json: "error_page" must be a file name');
  }
}

/** The folder to serve: static.json's root, else dist/ (a build's output), else public/, else the app itself. */
function settleRoot(settings) {
  const candidates = settings.root !== undefined ? [settings.root] : ['dist', 'public', '.'];
  const wanted = candidates.find((dir) => fs.existsSync(path.join(buildDir, dir)));
  if (wanted === undefined) {
    fail(
      `static.json: root "${settings.root}" does not exist after the build. If a build makes it, ` +
        'run the nodejs buildpack before this one (slipway buildpacks:add, or a .buildpacks file).',
    );
  }
  let real;
  try {
    real = fs.realpathSync(path.join(buildDir, wanted));
  } catch {
    fail(`static.json: root "${wanted}" cannot be read`);
  }
  if (real !== buildDir && !real.startsWith(`${buildDir}${path.sep}`)) {
    fail(`static.json: root "${wanted}" is outside the app`);
  }
  if (!fs.statSync(real).isDirectory()) fail(`static.json: root "${wanted}" is not a folder`);
  return path.relative(buildDir, real) || '.';
}

const settings = readStaticJson();
check(settings);
const root = settleRoot(settings);
process.stdout.write(`${INDENT}Serving ${root === '.' ? 'the app folder' : `${root}/`}`);
process.stdout.write(
  settings.root === undefined ? ' (no "root" in static.json: dist/, public/, or the app folder)\n' : '\n',
);
if (settings.clean_urls) process.stdout.write(`${INDENT}Clean URLs: /about serves about.html\n`);
for (const [pattern, target] of Object.entries(settings.routes ?? {})) {
  process.stdout.write(`${INDENT}Route: ${pattern} -> ${target} (when no file matches)\n`);
}
const dotStatic = path.join(buildDir, '.static');
fs.rmSync(dotStatic, { recursive: true, force: true });
fs.mkdirSync(dotStatic);
fs.writeFileSync(path.join(dotStatic, 'config.json'), `${JSON.stringify({ ...settings, root }, null, 2)}\n`);
