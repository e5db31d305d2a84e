// Types for the two undici modules the router loads directly (undici has no
// "exports" map, so its files can be imported one by one): loading only the
// Pool and Client keeps fetch, WebSocket, mocks and caches out of the server
// and router worker processes, several MB of memory and start-up each.

declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const PoolClass: typeof Pool;
  export default PoolClass;
}

declare module 'undici/lib/dispatcher/client.js' {
  import type { Client } from 'undici';

  const ClientClass: typeof Client;
  export default ClientClass;
}
