// The sandbox's /etc copy: what is copied (top-level links followed, links
// inside directories kept, nothing others could not read), and that a change
// on the host gives the next container a fresh copy while the old one stays;
// a loopback-only resolver (out of a container's network namespace's reach)
// is replaced by systemd-resolved's upstream servers.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createEtcView, onlyLoopbackResolvers } from '../../src/runtime/sandbox/etc-view.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-etc-view-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function hostEtc(): string {
  const etc = path.join(tmp, 'etc');
  fs.mkdirSync(path.join(etc, 'ssl', 'certs'), { recursive: true });
  fs.mkdirSync(path.join(etc, 'ssl', 'private'), { mode: 0o700 });
  fs.writeFileSync(path.join(etc, 'ssl', 'private', 'key.pem'), 'secret');
  fs.symlinkSync('/usr/share/ca-certificates/x.crt', path.join(etc, 'ssl', 'certs', 'x.pem'));
  fs.writeFileSync(path.join(tmp, 'resolv.real'), 'nameserver 10.0.0.1\n');
  fs.symlinkSync(path.join(tmp, 'resolv.real'), path.join(etc, 'resolv.conf'));
  fs.writeFileSync(path.join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.writeFileSync(path.join(etc, 'shadow-like'), 'root:hash\n', { mode: 0o600 });
  return etc;
}

test('copies what containers may read; follows top-level links, keeps links inside directories', async () => {
  const etc = hostEtc();
  const root = fs.mkdtempSync(path.join(tmp, 'root-'));
  const view = createEtcView(root, etc, ['passwd', 'resolv.conf', 'ssl', 'shadow-like', 'missing']);
  const dir = await view.current();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['passwd', 'resolv.conf', 'ssl']);
  assert.equal(fs.readFileSync(path.join(dir, 'resolv.conf'), 'utf8'), 'nameserver 10.0.0.1\n');
  assert.equal(fs.lstatSync(path.join(dir, 'resolv.conf')).isFile(), true);
  assert.equal(fs.readlinkSync(path.join(dir, 'ssl', 'certs', 'x.pem')), '/usr/share/ca-certificates/x.crt');
  assert.equal(fs.existsSync(path.join(dir, 'ssl', 'private')), false, 'a root-only directory is not copied');
  assert.equal(fs.statSync(dir).mode & 0o777, 0o755);
  assert.equal(await view.current(), dir, 'unchanged host files: the same copy');
});

test('a change on the host (even below ssl/) gives a new copy; the old one stays for running containers', async () => {
  const etc = path.join(tmp, 'etc');
  const root = fs.mkdtempSync(path.join(tmp, 'root-'));
  const view = createEtcView(root, etc, ['passwd', 'resolv.conf', 'ssl']);
  const first = await view.current();
  fs.writeFileSync(path.join(tmp, 'resolv.real'), 'nameserver 10.0.0.2\n');
  const second = await view.current();
  assert.notEqual(second, first);
  assert.equal(fs.readFileSync(path.join(second, 'resolv.conf'), 'utf8'), 'nameserver 10.0.0.2\n');
  assert.equal(fs.readFileSync(path.join(first, 'resolv.conf'), 'utf8'), 'nameserver 10.0.0.1\n');
  fs.writeFileSync(path.join(etc, 'ssl', 'certs', 'ca-certificates.crt'), 'CERTS');
  const third = await view.current();
  assert.equal(fs.readFileSync(path.join(third, 'ssl', 'certs', 'ca-certificates.crt'), 'utf8'), 'CERTS');
});

test('a resolv.conf naming only loopback resolvers gets the upstream servers instead, when the host lists them', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'stub-'));
  const etc = path.join(dir, 'etc');
  fs.mkdirSync(etc);
  fs.writeFileSync(path.join(etc, 'resolv.conf'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\n');
  const upstream = path.join(dir, 'upstream.conf');
  fs.writeFileSync(upstream, 'nameserver 192.0.2.53\nnameserver 2001:db8::53\n');
  const view = createEtcView(fs.mkdtempSync(path.join(dir, 'root-')), etc, ['resolv.conf'], upstream);
  const first = await view.current();
  assert.equal(
    fs.readFileSync(path.join(first, 'resolv.conf'), 'utf8'),
    'nameserver 192.0.2.53\nnameserver 2001:db8::53\n',
  );
  // A change of the upstream list gives a new copy, as a change in /etc does.
  fs.writeFileSync(upstream, 'nameserver 192.0.2.54\n');
  const second = await view.current();
  assert.notEqual(second, first);
  assert.equal(fs.readFileSync(path.join(second, 'resolv.conf'), 'utf8'), 'nameserver 192.0.2.54\n');
  // Without an upstream list, the host's file is copied as it is (and Slipway warns at start-up).
  fs.rmSync(upstream);
  const third = await view.current();
  assert.equal(
    fs.readFileSync(path.join(third, 'resolv.conf'), 'utf8'),
    'nameserver 127.0.0.53\noptions edns0 trust-ad\n',
  );
  assert.equal(onlyLoopbackResolvers(fs.readFileSync(path.join(third, 'resolv.conf'), 'utf8')), true);
});

test('which resolver lists leave a container without a resolver', () => {
  assert.equal(onlyLoopbackResolvers('nameserver 127.0.0.53\n'), true);
  assert.equal(onlyLoopbackResolvers('nameserver ::1\nnameserver 127.0.0.1\n'), true);
  assert.equal(onlyLoopbackResolvers('# no servers: the C library asks 127.0.0.1\n'), true);
  assert.equal(onlyLoopbackResolvers('nameserver 127.0.0.53\nnameserver 10.255.255.53\n'), false);
  assert.equal(onlyLoopbackResolvers('  nameserver 192.0.2.53 # lan\n'), false);
});
