// Zero downtime in the built-in router beyond the contract every driver
// passes (test/router-contract/zero-downtime.ts): drain's timeout.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deferred, request, startBackend, startRouter } from './router-helpers.ts';

const host = 'app.localhost';

// Built-in router only: behaviour nginx does not offer in the same form.
test('drain resolves at its timeout when a request never finishes, and at once when idle', async (t) => {
  const arrived = deferred();
  const hung = await startBackend(t, 'hung', () => arrived.resolve());
  const router = await startRouter(t, 'builtin');
  router.setRoute('app', { hostnames: [host], backends: [hung.backend] });
  const pending = request(router, { host }).catch(() => undefined);
  await arrived.promise;

  let begin = Date.now();
  await router.drain(['hung'], 150);
  const waited = Date.now() - begin;
  assert.ok(waited >= 140 && waited < 2_000, `drain took ${waited} ms`);

  begin = Date.now();
  await router.drain(['unknown-container'], 5_000);
  assert.ok(Date.now() - begin < 100);

  await router.close();
  await pending;
});
