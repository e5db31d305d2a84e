// Not part of `npm run bench`: the built-in router alone under autocannon,
// for `node --cpu-prof --import tsx bench/profile-builtin.ts`.

import { startBuiltinRouter } from '../src/router/builtin/index.ts';
import { autocannon, fmt, startBackendProcess } from './lib.ts';

const backend = await startBackendProcess();
const router = await startBuiltinRouter({ host: '127.0.0.1', port: 0, domain: 'localhost' });
router.setRoute('app', {
  hostnames: ['app.localhost'],
  backends: [{ id: 'w', host: '127.0.0.1', port: backend.port }],
});
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const f = await autocannon({ port: router.address.port, host: 'app.localhost', seconds, connections: 50 });
console.log(`built-in router alone: ${fmt(f.rps, 0)} req/s p50 ${f.p50} ms p99 ${f.p99} ms`);
await router.close();
await backend.handle.stop(1000);
