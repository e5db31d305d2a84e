// The nginx configuration Slipway writes: hostnames nginx could misread are
// left out, the latest app wins a shared hostname, and nginx accepts it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findLuaModules } from '../../src/router/nginx/live-backends.ts';
import { LUA_MODULE_SOURCE } from '../../src/router/nginx/lua-module.ts';
import { testConfig } from '../../src/router/nginx/master-process.ts';
import { type NginxConfigOptions, renderNginxConfig } from '../../src/router/nginx/render-config.ts';
import type { AppRoute } from '../../src/router/types.ts';
import { NGINX_SKIP } from './router-helpers.ts';

test('hostnames are normalised, unsafe ones dropped, conflicts go to the latest app; nginx -t accepts it', {
  skip: NGINX_SKIP,
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-nginx-conf-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    fs.mkdirSync(path.join(dir, 'temp', sub), { recursive: true });
  const routes = new Map<string, AppRoute>([
    [
      'shop',
      {
        hostnames: ['shop.localhost', 'Shop.Example.COM.:8080', 'evil.com; return 200 x', 'www.shared.test'],
        backends: [{ id: 'w1', host: '127.0.0.1', port: 4001 }],
      },
    ],
    ['blog', { hostnames: ['blog.localhost', 'www.shared.test'], backends: [] }],
  ]);
  const text = renderNginxConfig(routes, baseOptions(dir));
  assert.match(text, /server_name shop\.localhost shop\.example\.com;/);
  assert.match(text, /server_name www\.shared\.test blog\.localhost;/);
  assert.doesNotMatch(text, /evil/);
  assert.match(text, /blog has no running web process/);
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, text);
  assert.equal(await testConfig('nginx', dir, file), null);
});

const lua = findLuaModules();

test('with live backends the configuration depends on hostnames only; nginx -t accepts it', {
  skip: NGINX_SKIP || ('missing' in lua ? lua.missing : false),
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-nginx-conf-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'lua', 'control'])
    fs.mkdirSync(path.join(dir, 'temp', sub), { recursive: true });
  fs.writeFileSync(path.join(dir, 'temp', 'lua', 'slipway_router.lua'), LUA_MODULE_SOURCE);
  const options: NginxConfigOptions = {
    ...baseOptions(dir),
    live: {
      modules: 'modules' in lua ? lua.modules : [],
      luaDir: path.join(dir, 'temp', 'lua'),
      controlSocket: path.join(dir, 'temp', 'control', 'control.sock'),
    },
  };
  const route = (port: number | null): AppRoute => ({
    hostnames: ['shop.localhost'],
    backends: port === null ? [] : [{ id: `w${port}`, host: '127.0.0.1', port }],
  });
  const text = renderNginxConfig(new Map([['shop', route(4001)]]), options);
  assert.equal(renderNginxConfig(new Map([['shop', route(4002)]]), options), text);
  assert.equal(renderNginxConfig(new Map([['shop', route(null)]]), options), text);
  assert.doesNotMatch(text, /4001/);
  assert.match(text, /set \$slipway_app 'shop';/);
  assert.notEqual(
    renderNginxConfig(new Map([['shop', { ...route(4001), hostnames: ['shop.localhost', 'x.test'] }]]), options),
    text,
  );
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, text);
  assert.equal(await testConfig('nginx', dir, file), null);
});

/** The settings every configuration here is rendered with. */
function baseOptions(dir: string): NginxConfigOptions {
  return {
    dir,
    listenHost: '127.0.0.1',
    listenPort: 18080,
    domain: 'localhost',
    workers: 1,
    upstreamTimeoutMs: 60_000,
    shutdownTimeoutMs: 30_000,
    keepalivePerApp: 16,
  };
}
