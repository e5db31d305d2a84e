// The sandbox's command line as data: the order of the chain (cgroups joined
// first, privileges dropped before bubblewrap), what bubblewrap is told to
// share, and how exit statuses come back out of it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProcCgroup } from '../../src/runtime/sandbox/cgroup-v1.ts';
import { decodeExit, sandboxArgv } from '../../src/runtime/sandbox/sandbox-argv.ts';

const tools = {
  nsenter: '/usr/bin/nsenter',
  unshare: '/usr/bin/unshare',
  mount: '/usr/bin/mount',
  bwrap: '/usr/bin/bwrap',
};
const invocation = {
  tools,
  uid: 20001,
  gid: 20001,
  netns: '/run/netns/slipway-0123456789ab-c0ffee',
  cgroupProcs: ['/sys/fs/cgroup/memory/slipway/c1/cgroup.procs', '/sys/fs/cgroup/pids/slipway/c1/cgroup.procs'],
  etcDir: '/run/x/etc-0123',
  setupMounts: [{ kind: 'overlay', options: 'lowerdir=/s,upperdir=/u,workdir=/w', target: '/run/x/app' }] as const,
  binds: [['/run/x/app', '/app']] as const,
  cwd: '/app',
  hostname: 'web-1',
  argv: ['/bin/sh', '-c', 'node server.js'],
};
const argv = sandboxArgv(
  invocation,
  new Map([
    ['/bin', 'usr/bin'],
    ['/lib', null],
  ]),
);
const after = (flag: string, from = 0) => argv[argv.indexOf(flag, from) + 1];

test('the chain: private mount namespace, setup as root, then the container’s network namespace as the app user, then bwrap, then the command', () => {
  assert.deepEqual(argv.slice(0, 5), ['/usr/bin/unshare', '--mount', '--propagation', 'private', '/bin/sh']);
  const drop = argv.indexOf('/usr/bin/nsenter');
  const bwrap = argv.indexOf('/usr/bin/bwrap');
  assert.ok(drop > argv.indexOf('slipway-sandbox-setup') && bwrap > drop);
  assert.deepEqual(argv.slice(drop + 1, bwrap), [
    '--net=/run/netns/slipway-0123456789ab-c0ffee',
    '--setgid=20001',
    '--setuid=20001',
  ]);
  assert.ok(argv.includes('--cap-drop'), 'bwrap empties the bounding set');
  assert.deepEqual(argv.slice(-5), ['--chdir', '/app', '/bin/sh', '-c', 'node server.js']);
});

test('with a setuid-root bwrap, setpriv drops privileges (no_new_privs, no capabilities) before it', () => {
  const withSetpriv = sandboxArgv(
    { ...invocation, tools: { ...tools, setpriv: '/usr/bin/setpriv' } },
    new Map([['/bin', 'usr/bin']]),
  );
  const setpriv = withSetpriv.indexOf('/usr/bin/setpriv');
  const bwrap = withSetpriv.indexOf('/usr/bin/bwrap');
  assert.ok(setpriv > 0 && bwrap > setpriv);
  assert.deepEqual(withSetpriv.slice(setpriv - 2, setpriv), [
    '/usr/bin/nsenter',
    '--net=/run/netns/slipway-0123456789ab-c0ffee',
  ]);
  assert.deepEqual(withSetpriv.slice(setpriv + 1, bwrap), [
    '--reuid=20001',
    '--regid=20001',
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
  ]);
});

test('the setup step joins every cgroup before it mounts anything', () => {
  const setup = argv.indexOf('slipway-sandbox-setup');
  assert.deepEqual(argv.slice(setup + 1, setup + 9), [
    '/usr/bin/mount',
    '/sys/fs/cgroup/memory/slipway/c1/cgroup.procs',
    '/sys/fs/cgroup/pids/slipway/c1/cgroup.procs',
    '--',
    'overlay',
    'lowerdir=/s,upperdir=/u,workdir=/w',
    '/run/x/app',
    '--',
  ]);
  const script = argv[setup - 1] ?? '';
  assert.ok(script.indexOf('echo $$') < script.indexOf('-t overlay'), 'joins before mounting');
  assert.ok(script.trimEnd().endsWith('exec "$@"'), 'the setup shell is replaced, not kept as a parent');
});

test('bwrap: new namespaces, host system read-only, private /tmp /proc /dev, only /app writable', () => {
  for (const flag of ['--unshare-user', '--disable-userns', '--unshare-pid', '--unshare-ipc', '--unshare-uts'])
    assert.ok(argv.includes(flag), flag);
  // The network namespace is Slipway's own, entered by nsenter (owned by the host's user namespace, so the
  // container cannot change it); bwrap's would be an empty one without any interface.
  assert.ok(!argv.includes('--unshare-net'), 'bwrap makes no network namespace of its own');
  assert.equal(after('--hostname'), 'web-1');
  assert.equal(after('--ro-bind-try'), '/usr');
  assert.equal(after('--symlink'), 'usr/bin');
  assert.equal(after('--proc'), '/proc');
  assert.equal(after('--tmpfs'), '/tmp');
  const writable = argv.flatMap((arg, i) => (arg === '--bind' ? [argv[i + 1], argv[i + 2]] : []));
  assert.deepEqual(writable, ['/run/x/app', '/app']);
  assert.deepEqual(
    argv.flatMap((arg, i) => (argv[i + 2] === '/etc' || argv[i + 2]?.startsWith('/etc/') ? [arg, argv[i + 1]] : [])),
    ['--ro-bind', '/run/x/etc-0123'],
    '/etc is the prepared copy, read-only, and nothing else of the host /etc',
  );
  assert.ok(
    argv.some((arg, i) => arg === '--ro-bind' && argv[i + 1] === '/lib'),
    'a real /lib directory is bound',
  );
});

test('exit codes 129-159 come back as the signal; everything else as is', () => {
  assert.deepEqual(decodeExit(137, null), { code: null, signal: 'SIGKILL' });
  assert.deepEqual(decodeExit(143, null), { code: null, signal: 'SIGTERM' });
  assert.deepEqual(decodeExit(0, null), { code: 0, signal: null });
  assert.deepEqual(decodeExit(3, null), { code: 3, signal: null });
  assert.deepEqual(decodeExit(128, null), { code: 128, signal: null });
  assert.deepEqual(decodeExit(200, null), { code: 200, signal: null });
  assert.deepEqual(decodeExit(null, 'SIGKILL'), { code: null, signal: 'SIGKILL' });
});

test('/proc/self/cgroup: v1 controllers (co-mounted ones too) map to their paths; the v2 line is ignored', () => {
  const parsed = parseProcCgroup('4:memory:/process_api/abc\n2:cpu,cpuacct:/\n8:pids:/x\n0::/\n');
  assert.equal(parsed.get('memory'), '/process_api/abc');
  assert.equal(parsed.get('cpu'), '/');
  assert.equal(parsed.get('cpuacct'), '/');
  assert.equal(parsed.get('pids'), '/x');
  assert.equal(parsed.has(''), false);
});
