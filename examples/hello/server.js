// A minimal web process: answers on $PORT and stops cleanly on SIGTERM.
const http = require('node:http');

const server = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`Hello from ${process.env.APP} (${process.env.CONTAINER}, version ${process.env.CONTAINER_VERSION})\n`);
});
server.listen(Number(process.env.PORT), () => console.log(`listening on ${process.env.PORT}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
