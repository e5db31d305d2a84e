// The router contract: behaviour every Router driver must show, proven
// through real sockets (test/router-contract/*.ts). Each driver runs the same
// cases via `routerContract(...)`; a new driver is one more call at the bottom.

import { describe } from 'node:test';
import { NGINX_SKIP, startRouter } from './integration/router-helpers.ts';
import { proxyContract } from './router-contract/proxy.ts';
import type { RouterTraits, RouterUnderTest } from './router-contract/router-under-test.ts';
import { upgradeContract } from './router-contract/upgrade.ts';
import { zeroDowntimeContract } from './router-contract/zero-downtime.ts';

function routerContract(driver: RouterUnderTest, skip: string | false = false): void {
  describe(driver.name, { skip }, () => {
    proxyContract(driver);
    upgradeContract(driver);
    zeroDowntimeContract(driver);
  });
}

const BUILTIN: RouterTraits = {
  replaysRefusedRequestWithBody: false,
  http09Answer: '502',
  reloadClosesIdleConnections: false,
  passesOverSilentBackend: true,
};

routerContract({ name: 'builtin', traits: BUILTIN, start: (t, options) => startRouter(t, 'builtin', options) });
routerContract({
  name: 'builtin with a router worker process',
  traits: BUILTIN,
  start: (t, options) => startRouter(t, 'builtin-workers', options),
});
routerContract(
  {
    name: 'nginx',
    traits: {
      replaysRefusedRequestWithBody: true,
      http09Answer: 'closed with nothing sent',
      reloadClosesIdleConnections: true,
      passesOverSilentBackend: false,
    },
    start: (t, options) => startRouter(t, 'nginx', options),
  },
  NGINX_SKIP,
);
