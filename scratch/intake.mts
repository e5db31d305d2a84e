export {};
import { performance } from 'node:perf_hooks';
import { startSlipway, TOKEN } from '../test/helpers/slipway.ts';
import { appArchive } from '../bench/deploy-archive.ts';
const s = await startSlipway({ args: ['--runtime', 'process'], env: { SLIPWAY_LOG_LEVEL: 'error' } });
await s.api('POST', '/api/apps', { name: 'bench' });
const archive = await appArchive('true');
const headers = { authorization: `Bearer ${TOKEN}` };
const get: number[] = [], post: number[] = [];
for (let i = 0; i < 15; i++) {
  let t0 = performance.now();
  await (await fetch(`${s.apiUrl}/api/apps/bench`, { headers })).json();
  get.push(performance.now() - t0);
  t0 = performance.now();
  const r = await fetch(`${s.apiUrl}/api/apps/bench/deployments`, { method: 'POST', headers: { ...headers, 'content-type': 'application/gzip' }, body: archive });
  await r.json();
  post.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 400));
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(2);
console.log('GET app', med(get), 'POST deployment', med(post));
await s.stop();
