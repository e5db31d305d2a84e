import { test } from 'node:test';
import { startPostgres } from './test/helpers/postgres.ts';
import { fixtureCopy, routerGet, startSlipway } from './test/helpers/slipway.ts';
test('outage', async () => {
  const c = await startPostgres();
  const url = await c.createDatabase();
  const s = await startSlipway({ env: { SLIPWAY_DATABASE_URL: url } });
  try {
    await s.cli(['apps:create', 'shop']);
    await s.cli(['env:set', 'JWT_SECRET=a', '-a', 'shop']);
    console.log('deploy', (await s.cli(['deploy', fixtureCopy('needs-secret'), '-a', 'shop'])).code);
    const p = c.restart(3000);
    await new Promise((r) => setTimeout(r, 1000));
    console.log('DOWN apps', await s.cli(['apps']));
    console.log('DOWN router', await routerGet(s.routerPort, 'shop.localhost'));
    await p;
    console.log('UP apps', await s.cli(['apps']));
    console.log('UP env:set', await s.cli(['env:set', 'JWT_SECRET=b', '-a', 'shop']));
    console.log('UP router', await routerGet(s.routerPort, 'shop.localhost'));
    console.log('server output', s.serverOutput.join('\n'));
  } finally { await s.stop(); await c.stop(); }
});
