// Upgrades through the built-in router, beyond the contract every driver
// passes (test/router-contract/upgrade.ts): closing the router with tunnels open.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { AccessEntry } from '../../src/router/builtin/index.ts';
import { waitFor } from '../helpers/wait.ts';
import { host, startEchoBackend, upgrade } from '../router-contract/upgrade.ts';
import { startRouter } from './router-helpers.ts';

test('close() ends open tunnels and resolves; the tunnel is logged once closed', async (t) => {
  const echo = await startEchoBackend(t);
  const entries: AccessEntry[] = [];
  const router = await startRouter(t, 'builtin', { onAccess: (entry) => entries.push(entry) });
  router.setRoute('ws', { hostnames: [host], backends: [echo.backend] });
  const socket = (await upgrade(t, router)).socket as Socket;
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  assert.equal(entries.length, 0);
  await router.close();
  await closed;
  await waitFor(() => entries.length === 1, 'the access entry');
  assert.equal(entries[0]?.status, 101);
  assert.equal(entries[0]?.app, 'ws');
});
