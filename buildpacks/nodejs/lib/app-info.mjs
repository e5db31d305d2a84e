// The nodejs buildpack's questions about an app, answered for bin/compile and
// bin/release (which are shell scripts): `node app-info.mjs COMMAND ARGS...`.
// No dependencies of its own: semver ranges are read with the semver package
// that npm itself bundles (npm ships with every Node, so it is always here).
//
//   plan BUILD_DIR NAME...   checks engines.node (and engines.npm) against this Node, then
//                            prints shell assignments for bin/compile: nodedir (the prefix
//                            holding this Node's C headers, for node-gyp --nodedir, or empty),
//                            pm_name and pm_spec (npm npm | yarn yarn@1.22.22 | pnpm pnpm@9,
//                            by lockfile), npm_version (the npm bundled with this Node), scripts
//                            (the NAMEs package.json defines, one a line)
//   cache-key BUILD_DIR LOCKFILE SPEC KEY [OLD]
//                            writes what the installed node_modules depend on (JSON) to KEY;
//                            with OLD (an earlier key), prints why they differ (nothing: same)
//   release BUILD_DIR        bin/release's YAML
//
// One process answers all of bin/compile's questions at once: each node start costs tens of ms.
// Messages for the build log go to stderr, in Heroku's style; a failure exits 1.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const INDENT = '       ';
const WARN = ' !     ';

function fail(lines) {
  for (const line of lines) process.stderr.write(`${WARN}${line}\n`);
  process.exit(1);
}

function say(line) {
  process.stderr.write(`${INDENT}${line}\n`);
}

function warn(line) {
  process.stderr.write(`${WARN}${line}\n`);
}

function readPackageJson(buildDir) {
  const file = path.join(buildDir, 'package.json');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    fail(['package.json could not be read']);
  }
  let pkg;
  try {
    pkg = JSON.parse(text);
  } catch (err) {
    fail([`package.json is not valid JSON: ${err.message}`]);
  }
  if (pkg === null || typeof pkg !== 'object' || Array.isArray(pkg)) fail(['package.json must hold a JSON object']);
  return pkg;
}

/** The npm package on PATH (or in this Node's prefix): its bundled semver, its version. */
function npmRoot() {
  const candidates = [];
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    try {
      const cli = fs.realpathSync(path.join(dir, 'npm'));
      candidates.push(path.dirname(path.dirname(cli)));
    } catch {
      // no npm in this directory
    }
  }
  candidates.push(path.join(path.dirname(path.dirname(process.execPath)), 'lib', 'node_modules', 'npm'));
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_modules', 'semver', 'package.json')));
  if (found === undefined) fail(['npm (and the semver package it bundles) was not found next to this Node.js']);
  return found;
}

function loadSemver() {
  return createRequire(import.meta.url)(path.join(npmRoot(), 'node_modules', 'semver'));
}

function npmVersion() {
  return JSON.parse(fs.readFileSync(path.join(npmRoot(), 'package.json'), 'utf8')).version;
}

function engines(buildDir) {
  const pkg = readPackageJson(buildDir);
  const version = process.version.slice(1);
  const range = pkg.engines?.node;
  say(`Node.js on this platform: v${version} (the one Node.js here: it builds and runs the app)`);
  if (range === undefined) {
    say('engines.node is not set in package.json: the app runs on the Node.js above');
  } else {
    const semver = loadSemver();
    if (typeof range !== 'string' || semver.validRange(range) === null) {
      fail([`engines.node in package.json is not a valid semver range: ${JSON.stringify(range)}`]);
    }
    say(`engines.node (package.json): ${range}`);
    if (!semver.satisfies(version, range)) {
      fail([
        `engines.node "${range}" cannot be satisfied: this platform has Node.js v${version} only,`,
        'and the buildpack does not download other versions.',
        `Change engines.node to a range that includes ${version} (for example "${semver.major(version)}.x"), or remove it.`,
      ]);
    }
    const major = semver.major(version);
    const newer = [];
    for (let m = major + 1; m <= major + 40; m++) {
      if (semver.intersects(range, `>=${m}.0.0 <${m + 1}.0.0`)) newer.push(m);
    }
    if (newer.length > 0) {
      warn(`engines.node "${range}" also allows Node.js ${newer[0]} and later majors. Heroku would run the`);
      warn(`newest version in that range; here the app runs on v${version}. Pin the major you test on,`);
      warn(`for example "${major}.x", to say what the app needs.`);
    }
  }
  const npmRange = pkg.engines?.npm;
  if (typeof npmRange === 'string') {
    const semver = loadSemver();
    const bundled = npmVersion();
    if (semver.validRange(npmRange) !== null && !semver.satisfies(bundled, npmRange)) {
      warn(`engines.npm "${npmRange}" is not satisfied by npm ${bundled}, bundled with this Node.js, which is used.`);
    }
  }
}

const LOCKFILES = [
  ['package-lock.json', 'npm'],
  ['npm-shrinkwrap.json', 'npm'],
  ['yarn.lock', 'yarn'],
  ['pnpm-lock.yaml', 'pnpm'],
];

/** The package manager named by package.json's "packageManager" field ("pnpm@9.15.0+sha512…"), if any. */
function declaredManager(pkg) {
  const field = pkg.packageManager;
  if (field === undefined) return null;
  const m = typeof field === 'string' ? /^(npm|yarn|pnpm)@([0-9A-Za-z.+\-_]+)$/.exec(field) : null;
  if (m === null) fail([`package.json "packageManager" must look like "pnpm@9.15.0": ${JSON.stringify(field)}`]);
  return { name: m[1], spec: `${m[1]}@${m[2]}` };
}

/** A version for corepack when package.json names none: the one the lockfile's format comes from. */
function specFromLockfile(buildDir, name) {
  const text = fs.readFileSync(path.join(buildDir, name === 'yarn' ? 'yarn.lock' : 'pnpm-lock.yaml'), 'utf8');
  if (name === 'yarn') {
    const meta = /^__metadata:\s*\n\s+version:\s*"?(\d+)/m.exec(text);
    if (meta === null) return 'yarn@1';
    const format = Number(meta[1]);
    return format >= 8 ? 'yarn@4' : format >= 6 ? 'yarn@3' : 'yarn@2';
  }
  const lock = /^lockfileVersion:\s*'?"?(\d+)/m.exec(text);
  const format = lock === null ? 9 : Number(lock[1]);
  return format >= 9 ? 'pnpm@9' : format >= 6 ? 'pnpm@8' : 'pnpm@7';
}

function manager(buildDir) {
  const pkg = readPackageJson(buildDir);
  const found = LOCKFILES.filter(([file]) => fs.existsSync(path.join(buildDir, file)));
  const declared = declaredManager(pkg);
  for (const bun of ['bun.lockb', 'bun.lock']) {
    if (fs.existsSync(path.join(buildDir, bun)) && found.length === 0) {
      fail([`${bun} found: bun is not supported; commit a package-lock.json, yarn.lock or pnpm-lock.yaml`]);
    }
  }
  const names = [...new Set(found.map(([, name]) => name))];
  let name;
  if (declared !== null) {
    name = declared.name;
    if (names.length > 0 && !names.includes(name)) {
      fail([
        `package.json says "packageManager": "${pkg.packageManager}", but the lockfile is ${found[0][0]}.`,
        `Commit the ${name} lockfile, or change "packageManager".`,
      ]);
    }
    for (const [file, other] of found) {
      if (other !== name) warn(`${file} is ignored: "packageManager" says ${name}`);
    }
  } else if (names.length > 1) {
    fail([
      `several lockfiles: ${found.map(([file]) => file).join(', ')}. Keep the one of the package manager`,
      'you use, or set "packageManager" in package.json.',
    ]);
  } else {
    name = names[0] ?? 'npm';
  }
  // npm is the one bundled with Node; yarn and pnpm come through corepack.
  return { name, spec: name === 'npm' ? 'npm' : (declared?.spec ?? specFromLockfile(buildDir, name)) };
}

function scripts(buildDir, names) {
  const pkg = readPackageJson(buildDir);
  const defined = pkg.scripts !== null && typeof pkg.scripts === 'object' ? pkg.scripts : {};
  return names.filter((name) => typeof defined[name] === 'string');
}

/** A value as a single-quoted shell word. */
const shellWord = (value) => `'${String(value).replaceAll("'", "'\\''")}'`;

function plan(buildDir, names) {
  engines(buildDir);
  const pm = manager(buildDir);
  const answers = {
    nodedir: nodeHeaders() ?? '',
    pm_name: pm.name,
    pm_spec: pm.spec,
    npm_version: npmVersion(),
    scripts: scripts(buildDir, names).join('\n'),
  };
  for (const [name, value] of Object.entries(answers)) process.stdout.write(`${name}=${shellWord(value)}\n`);
}

function sha256(data) {
  return createHash('sha256').update(data).digest('hex');
}

function fileHash(file) {
  try {
    return sha256(fs.readFileSync(file));
  } catch {
    return null;
  }
}

/** Package.json fields that change what an install produces; "scripts" and the like do not. */
const INSTALL_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'overrides',
  'resolutions',
  'workspaces',
  'pnpm',
  'packageManager',
];
const CONFIG_FILES = ['.npmrc', '.yarnrc', '.yarnrc.yml', '.pnpmfile.cjs', 'pnpm-workspace.yaml'];
/** Variables that change what an install produces (the build-from-source default included). */
const INSTALL_VARS = [
  'NPM_CONFIG_PRODUCTION',
  'npm_config_production',
  'YARN_PRODUCTION',
  'npm_config_build_from_source',
  'npm_config_nodedir',
];

function cacheKey(buildDir, lockfile, spec, keyFile, oldFile) {
  const pkg = readPackageJson(buildDir);
  const installFields = Object.fromEntries(INSTALL_FIELDS.map((field) => [field, pkg[field] ?? null]));
  const key = {
    format: 1,
    lockfile: lockfile ? `${lockfile} ${fileHash(path.join(buildDir, lockfile))}` : null,
    package_json: sha256(JSON.stringify(installFields)),
    config_files: Object.fromEntries(CONFIG_FILES.map((file) => [file, fileHash(path.join(buildDir, file))])),
    node: process.version,
    modules_abi: process.versions.modules,
    platform: `${process.platform}-${process.arch}-glibc${process.report?.getReport().header.glibcVersionRuntime ?? 'none'}`,
    package_manager: spec,
    env: Object.fromEntries(INSTALL_VARS.map((name) => [name, process.env[name] ?? null])),
  };
  fs.writeFileSync(keyFile, `${JSON.stringify(key)}\n`);
  if (oldFile !== undefined) process.stdout.write(keyDifferences(oldFile, key));
}

const KEY_LABELS = {
  format: 'the cache format changed',
  lockfile: 'the lockfile changed',
  package_json: "package.json's dependencies changed",
  config_files: 'a package manager config file (.npmrc, .yarnrc.yml…) changed',
  node: 'Node.js changed',
  modules_abi: 'the Node.js module ABI changed',
  platform: 'the platform changed',
  package_manager: 'the package manager version changed',
  env: 'an install setting (NPM_CONFIG_PRODUCTION, npm_config_build_from_source…) changed',
};

/** Why the key in `oldFile` differs from `now` ("the lockfile changed; …"), or '' when they match. */
function keyDifferences(oldFile, now) {
  let old;
  try {
    old = JSON.parse(fs.readFileSync(oldFile, 'utf8'));
  } catch {
    old = {};
  }
  const changed = Object.keys(KEY_LABELS).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k]));
  return changed.length === 0 ? '' : `${changed.map((k) => KEY_LABELS[k]).join('; ')}\n`;
}

/**
 * node-gyp's --nodedir takes an installation prefix with include/node/ in it.
 * The headers must be this Node's own (same version), or native modules would
 * be built for another ABI.
 */
function nodeHeaders() {
  const prefixes = [
    process.config.variables.node_prefix,
    path.dirname(path.dirname(fs.realpathSync(process.execPath))),
    '/usr',
    '/usr/local',
  ];
  const want = process.versions.node;
  for (const prefix of new Set(prefixes.filter((p) => typeof p === 'string' && p !== ''))) {
    let header;
    try {
      header = fs.readFileSync(path.join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    } catch {
      continue;
    }
    const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(header)?.[1];
    const found = `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
    if (found === want && fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) return prefix;
  }
  return null;
}

function release(buildDir) {
  let start = false;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(buildDir, 'package.json'), 'utf8'));
    start = typeof pkg?.scripts?.start === 'string';
  } catch {
    // no readable package.json: no default process type
  }
  const lines = ['---', 'addons: []', 'config_vars:', '  NODE_ENV: production'];
  lines.push(start ? 'default_process_types:\n  web: npm start' : 'default_process_types: {}');
  process.stdout.write(`${lines.join('\n')}\n`);
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'plan':
    plan(args[0], args.slice(1));
    break;
  case 'cache-key':
    cacheKey(args[0], args[1], args[2], args[3], args[4]);
    break;
  case 'release':
    release(args[0]);
    break;
  default:
    fail([`app-info.mjs: unknown command ${command}`]);
}
